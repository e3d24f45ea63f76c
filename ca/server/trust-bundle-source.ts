import type { CertificateInfo } from '../certificate-info.js';

/** The trust bundle at one moment: the roots peers must trust, and its sequence number. */
export interface TrustBundleSnapshot {
  /** Strictly increasing with every change (DESIGN §6). */
  readonly sequence: number;
  readonly roots: readonly CertificateInfo[];
  /** Every root's PEM, concatenated (what Istio's cert_chain carries last). */
  readonly pem: string;
}

/**
 * The one source of the current trust bundle: consumers ask it at use time and subscribe to changes;
 * nobody keeps a copy (STYLE: one source interface for static and rotating material).
 */
export class TrustBundleSource {
  private snapshot: TrustBundleSnapshot;
  private readonly listeners = new Set<(s: TrustBundleSnapshot) => void>();

  constructor(roots: readonly CertificateInfo[], sequence = 1) {
    this.snapshot = snapshotOf(roots, sequence);
  }

  current(): TrustBundleSnapshot {
    return this.snapshot;
  }

  /** Replaces the roots; a real change gets the next sequence number and is pushed to every listener. */
  update(roots: readonly CertificateInfo[]): TrustBundleSnapshot {
    const same = roots.length === this.snapshot.roots.length && roots.every((r, i) => r.der.equals(this.snapshot.roots[i]!.der));
    if (same) return this.snapshot;
    this.snapshot = snapshotOf(roots, this.snapshot.sequence + 1);
    for (const l of this.listeners) l(this.snapshot);
    return this.snapshot;
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (s: TrustBundleSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}

function snapshotOf(roots: readonly CertificateInfo[], sequence: number): TrustBundleSnapshot {
  return Object.freeze({ sequence, roots: Object.freeze([...roots]), pem: roots.map((r) => r.pem).join('') });
}

import type { JwtAuthority, SpiffeBundle } from '../../workload-identity/index.js';
import type { CertificateInfo } from '../certificate-info.js';

/** What WatchTrustBundle sends at one moment: the roots peers must trust, the active issuer, and its sequence number. */
export interface TrustBundleSnapshot {
  /** Strictly increasing with every change (docs/architecture.md §6). */
  readonly sequence: number;
  readonly roots: readonly CertificateInfo[];
  /** Every root's PEM, concatenated (what Istio's cert_chain carries last). */
  readonly pem: string;
  /** Subject key identifier (lowercase hex) of the intermediate that signs new leaves; '' when unknown. */
  readonly activeIssuerKeyId: string;
  /** Non-zero after a root activation: agents re-issue leaves of other issuers within this many seconds. */
  readonly reissueSpreadSeconds: number;
  /** The JWT-SVID keys validators must accept now (docs/jwt-svid.md). */
  readonly jwtAuthorities: readonly JwtAuthority[];
  /** Bundles of federated trust domains (docs/federation.md). */
  readonly federated: readonly SpiffeBundle[];
}

export interface TrustBundleContent {
  readonly sequence: number;
  readonly roots: readonly CertificateInfo[];
  readonly activeIssuerKeyId?: string;
  readonly reissueSpreadSeconds?: number;
  readonly jwtAuthorities?: readonly JwtAuthority[];
  readonly federated?: readonly SpiffeBundle[];
}

/**
 * The one source of the current trust bundle: consumers ask it at use time and subscribe to changes;
 * nobody keeps a copy (STYLE: one source interface for static and rotating material).
 */
export class TrustBundleSource {
  private snapshot: TrustBundleSnapshot;
  private readonly listeners = new Set<(s: TrustBundleSnapshot) => void>();

  constructor(roots: readonly CertificateInfo[], sequence = 1, extra: Omit<TrustBundleContent, 'roots' | 'sequence'> = {}) {
    this.snapshot = snapshotOf({ roots, sequence, ...extra });
  }

  current(): TrustBundleSnapshot {
    return this.snapshot;
  }

  /** Replaces the roots (keeping the rest); a real change gets the next sequence number and is pushed to every listener. */
  update(roots: readonly CertificateInfo[]): TrustBundleSnapshot {
    if (sameRoots(roots, this.snapshot.roots)) return this.snapshot;
    return this.install(snapshotOf({ ...this.snapshot, roots, sequence: this.snapshot.sequence + 1 }));
  }

  /**
   * Installs the state the CA directory holds (its sequence is persisted there, shared by replicas).
   * An older or equal sequence is ignored: the bundle never moves backwards.
   */
  replace(s: TrustBundleContent): TrustBundleSnapshot {
    if (s.sequence <= this.snapshot.sequence) return this.snapshot;
    return this.install(snapshotOf(s));
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (s: TrustBundleSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  private install(s: TrustBundleSnapshot): TrustBundleSnapshot {
    this.snapshot = s;
    for (const l of this.listeners) l(s);
    return s;
  }
}

function sameRoots(a: readonly CertificateInfo[], b: readonly CertificateInfo[]): boolean {
  return a.length === b.length && a.every((r, i) => r.der.equals(b[i]!.der));
}

function snapshotOf(s: TrustBundleContent): TrustBundleSnapshot {
  return Object.freeze({
    sequence: s.sequence,
    roots: Object.freeze([...s.roots]),
    pem: s.roots.map((r) => r.pem).join(''),
    activeIssuerKeyId: s.activeIssuerKeyId ?? '',
    reissueSpreadSeconds: s.reissueSpreadSeconds ?? 0,
    jwtAuthorities: Object.freeze([...(s.jwtAuthorities ?? [])]),
    federated: Object.freeze([...(s.federated ?? [])]),
  });
}

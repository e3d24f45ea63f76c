import type { TrustBundle } from '../workload-identity/index.js';
import { sameBundles } from './secret-cache.js';
import type { BundleSet } from './secret-source.js';

/**
 * The CA's request, carried by WatchTrustBundle after a root activation (docs/architecture.md §6), that leaves signed
 * by another issuer than the active one be re-issued at a random moment within `spreadSeconds`.
 */
export interface ReissueRequest {
  /** Subject key identifier of the active intermediate, lowercase hex without separators. */
  readonly activeIssuerKeyId: string;
  readonly spreadSeconds: number;
}

/**
 * The newest trust bundles the agent knows (its own trust domain's and the federated ones), shared by
 * every identity it serves. The WatchTrustBundle stream is authoritative (it is the CA's state now); a
 * bundle that came with a Sign answer is taken only when its sequence is newer (a Sign answer can
 * overtake the stream, never the reverse).
 *
 * @example state.offer({ own, federated: [] }, 'stream') && pushToIdentities(state.current!);
 */
export class TrustBundleState {
  private bundles: BundleSet | undefined;
  private request: ReissueRequest | undefined;
  private readonly listeners = new Set<(b: BundleSet) => void>();
  private readonly appliedListeners = new Set<(b: BundleSet) => void>();
  private readonly reissueListeners = new Set<(r: ReissueRequest) => void>();

  /** Every bundle the agent trusts now. */
  get current(): BundleSet | undefined {
    return this.bundles;
  }

  /** The own trust domain's bundle now. */
  get own(): TrustBundle | undefined {
    return this.bundles?.own;
  }

  /** The CA's current re-issue request, if any. */
  get reissue(): ReissueRequest | undefined {
    return this.request;
  }

  /**
   * Installs `b` when it is news; returns whether it was. Listeners run after the change (each identity
   * pushes ROOTCA to its streams), then the `onApplied` listeners (the bundle is now served).
   */
  offer(b: BundleSet, from: 'stream' | 'sign'): boolean {
    const cur = this.bundles;
    if (from === 'sign' && cur !== undefined) {
      if (b.own.sequence <= cur.own.sequence) return false;
      // A Sign answer carries roots only: keep the JWT keys and federated bundles the stream last sent
      // until the stream (authoritative) catches up, so no workload sees them vanish meanwhile.
      const own = cur.own.jwtAuthorities ? b.own.withJwtAuthorities(cur.own.jwtAuthorities) : b.own;
      b = Object.freeze({ own, federated: cur.federated });
    }
    if (sameBundles(cur, b)) return false;
    this.bundles = b;
    for (const l of [...this.listeners]) l(b);
    for (const l of [...this.appliedListeners]) l(b);
    return true;
  }

  subscribe(listener: (b: BundleSet) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after every `subscribe` listener took a new bundle (whenever they subscribed). */
  onApplied(listener: (b: BundleSet) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /**
   * Records the CA's re-issue request (undefined: none, e.g. an old CA or no activation under way);
   * listeners run when it changed. Identities also read `reissue` whenever they get a new leaf.
   */
  setReissue(r: ReissueRequest | undefined): void {
    const cur = this.request;
    if (cur?.activeIssuerKeyId === r?.activeIssuerKeyId && cur?.spreadSeconds === r?.spreadSeconds) return;
    this.request = r;
    if (r) for (const l of [...this.reissueListeners]) l(r);
  }

  onReissue(listener: (r: ReissueRequest) => void): () => void {
    this.reissueListeners.add(listener);
    return () => this.reissueListeners.delete(listener);
  }
}

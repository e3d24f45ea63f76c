import { sameBundle } from './secret-cache.js';
import type { TrustBundle } from './secret-source.js';

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
 * The newest trust bundle the agent knows, shared by every identity it serves. The WatchTrustBundle
 * stream is authoritative (it is the CA's state now); a bundle that came with a Sign answer is taken
 * only when its sequence is newer (a Sign answer can overtake the stream, never the reverse).
 *
 * @example state.offer(bundle, 'stream') && pushToIdentities(state.current!);
 */
export class TrustBundleState {
  private bundle: TrustBundle | undefined;
  private request: ReissueRequest | undefined;
  private readonly listeners = new Set<(b: TrustBundle) => void>();
  private readonly appliedListeners = new Set<(b: TrustBundle) => void>();
  private readonly reissueListeners = new Set<(r: ReissueRequest) => void>();

  get current(): TrustBundle | undefined {
    return this.bundle;
  }

  /** The CA's current re-issue request, if any. */
  get reissue(): ReissueRequest | undefined {
    return this.request;
  }

  /**
   * Installs `b` when it is news; returns whether it was. Listeners run after the change (each identity
   * pushes ROOTCA to its streams), then the `onApplied` listeners (the bundle is now served).
   */
  offer(b: TrustBundle, from: 'stream' | 'sign'): boolean {
    const cur = this.bundle;
    if (from === 'sign' && cur !== undefined) {
      if (b.sequence <= cur.sequence) return false;
      // A Sign answer carries roots only: keep the JWT keys and federated bundles the stream last sent
      // until the stream (authoritative) catches up, so no workload sees them vanish meanwhile.
      b = { ...b, ...(cur.jwtAuthorities ? { jwtAuthorities: cur.jwtAuthorities } : {}), ...(cur.federated ? { federated: cur.federated } : {}) };
    }
    if (sameBundle(cur, b)) return false;
    this.bundle = b;
    for (const l of [...this.listeners]) l(b);
    for (const l of [...this.appliedListeners]) l(b);
    return true;
  }

  subscribe(listener: (b: TrustBundle) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after every `subscribe` listener took a new bundle (whenever they subscribed). */
  onApplied(listener: (b: TrustBundle) => void): () => void {
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

import { sameBundle } from './secret-cache.js';
import type { TrustBundle } from './secret-source.js';

/**
 * The newest trust bundle the agent knows, shared by every identity it serves. The WatchTrustBundle
 * stream is authoritative (it is the CA's state now); a bundle that came with a Sign answer is taken
 * only when its sequence is newer (a Sign answer can overtake the stream, never the reverse).
 *
 * @example state.offer(bundle, 'stream') && pushToIdentities(state.current!);
 */
export class TrustBundleState {
  private bundle: TrustBundle | undefined;
  private readonly listeners = new Set<(b: TrustBundle) => void>();

  get current(): TrustBundle | undefined {
    return this.bundle;
  }

  /** Installs `b` when it is news; returns whether it was. Listeners run after the change. */
  offer(b: TrustBundle, from: 'stream' | 'sign'): boolean {
    const cur = this.bundle;
    if (sameBundle(cur, b)) return false;
    if (from === 'sign' && cur !== undefined && b.sequence <= cur.sequence) return false;
    this.bundle = b;
    for (const l of [...this.listeners]) l(b);
    return true;
  }

  subscribe(listener: (b: TrustBundle) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

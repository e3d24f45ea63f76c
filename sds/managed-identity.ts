import { CastellanError } from '../workload-identity/index.js';
import { IdentityRotation, type RotationOptions } from './rotation.js';
import { SecretCache } from './secret-cache.js';
import type { SecretWatch, TrustBundle } from './secret-source.js';
import type { TrustBundleState } from './trust-bundle-state.js';
import { chainsTo } from './workload-svid.js';

/** One identity the agent serves: its cache (what streams see) and its rotation (what keeps it fresh). */
export class ManagedIdentity {
  readonly cache: SecretCache;
  readonly rotation: IdentityRotation;
  private readonly unsubscribe: () => void;

  constructor(bundles: TrustBundleState, o: Omit<RotationOptions, 'cache' | 'bundle' | 'offerBundle'>, onIdle: () => void = () => undefined) {
    this.cache = new SecretCache(onIdle, o.log);
    this.rotation = new IdentityRotation({ ...o, cache: this.cache, bundle: () => bundles.current, offerBundle: (b) => bundles.offer(b, 'sign') });
    this.unsubscribe = bundles.subscribe((b) => this.bundleChanged(b));
  }

  private bundleChanged(b: TrustBundle): void {
    const snap = this.cache.current();
    if (!snap) return;
    // ROOTCA first (DESIGN §5); then, if the new bundle no longer holds the leaf's root, a new leaf.
    this.cache.update({ bundle: b });
    if (!chainsTo(snap.svid, b)) this.rotation.renewNow('the trust bundle no longer holds the root of the current certificate');
  }

  stop(): void {
    this.unsubscribe();
    this.rotation.stop();
  }

  /**
   * A watch once the identity has a certificate: at once when it has one, else after the next attempt.
   * Rejects ERR_NOT_READY (with the CA's reason) when that attempt failed, ERR_CANCELLED on `signal`.
   */
  async watch(signal?: AbortSignal): Promise<SecretWatch> {
    for (;;) {
      if (signal?.aborted) throw new CastellanError('ERR_CANCELLED', 'sds: the stream ended before its certificate was ready');
      if (this.cache.current()) return this.cache.watch();
      const last = this.rotation.lastError;
      if (!this.rotation.attempting) {
        throw new CastellanError('ERR_NOT_READY', `sds: no certificate yet${last ? `: ${last.message}` : ''}; retry`, { cause: last });
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        signal?.addEventListener('abort', done, { once: true });
        void this.rotation.nextOutcome().then(done);
      });
    }
  }
}

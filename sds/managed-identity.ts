import { CastellanError } from '../workload-identity/index.js';
import { IdentityRotation, type RotationOptions } from './rotation.js';
import { SecretCache } from './secret-cache.js';
import type { BundleSet, SecretWatch } from './secret-source.js';
import type { TrustBundleState } from './trust-bundle-state.js';
import { chainsTo, leafIssuerKeyId } from './workload-svid.js';

/** One identity the agent serves: its cache (what streams see) and its rotation (what keeps it fresh). */
export class ManagedIdentity {
  readonly cache: SecretCache;
  readonly rotation: IdentityRotation;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReissue: () => void;
  /** `serial/activeIssuerKeyId` of the leaf a paced re-issue was already decided for (idempotence). */
  private pacedFor: string | undefined;
  private stopped = false;

  constructor(
    private readonly bundles: TrustBundleState,
    private readonly o: Omit<RotationOptions, 'cache' | 'bundle' | 'offerBundle'>,
    onIdle: () => void = () => undefined,
  ) {
    this.cache = new SecretCache(onIdle, o.log);
    this.rotation = new IdentityRotation({
      ...o,
      cache: this.cache,
      bundle: () => bundles.current,
      offerBundle: (b) => bundles.offer(b, 'sign'),
      onEvent: (e) => {
        o.onEvent?.(e);
        // Every new leaf is checked against the CA's re-issue request (one may have come before it).
        // Deferred: `issued` is reported from inside the attempt, which must finish first.
        if (e.type === 'issued') queueMicrotask(() => this.checkIssuer());
      },
    });
    this.unsubscribe = bundles.subscribe((b) => this.bundleChanged(b));
    this.unsubscribeReissue = bundles.onReissue(() => this.checkIssuer());
  }

  /**
   * Paced re-issue (docs/architecture.md §6): after a root activation the CA asks agents whose leaf was signed by
   * another intermediate to re-issue at a uniformly random moment within the spread, so that the CA is
   * not stormed. Decided once per leaf and active issuer: repeated or reconnected messages draw no new
   * moment; a leaf of the active issuer needs nothing; the normal renewal wins when it comes earlier.
   */
  private checkIssuer(): void {
    if (this.stopped) return;
    const r = this.bundles.reissue;
    const svid = this.rotation.current;
    if (!r || !svid) return;
    const leafIssuer = leafIssuerKeyId(svid);
    // Without an authority key identifier the agent cannot tell; re-issuing would loop on every leaf.
    if (leafIssuer === undefined || leafIssuer === r.activeIssuerKeyId) return;
    const key = `${svid.serialHex}/${r.activeIssuerKeyId}`;
    if (this.pacedFor === key) return;
    this.pacedFor = key;
    const delay = Math.floor((this.o.random ?? Math.random)() * r.spreadSeconds * 1000);
    this.rotation.renewWithin(delay, `the CA activated issuer ${r.activeIssuerKeyId}; this leaf is from ${leafIssuer}`);
  }

  private bundleChanged(b: BundleSet): void {
    const snap = this.cache.current();
    if (!snap) return;
    // ROOTCA first (docs/architecture.md §5); then, if the new bundle no longer holds the leaf's root, a new leaf.
    this.cache.update({ bundles: b });
    if (!chainsTo(snap.svid, b.own)) this.rotation.renewNow('the trust bundle no longer holds the root of the current certificate');
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.unsubscribeReissue();
    this.rotation.stop();
  }

  /**
   * Stops serving the identity for good (node mode: the CA refuses it now): every open watch ends with
   * `err`, and the key and certificate are forgotten.
   */
  discard(err: Error): void {
    this.stop();
    this.cache.revoke(err);
    this.cache.clear();
    this.rotation.discard();
  }

  /**
   * A watch once the identity has a certificate: at once when it has one, else after the next attempt.
   * Rejects ERR_NOT_READY (with the CA's reason) when that attempt failed, ERR_CANCELLED on `signal`.
   * `tag` names the watch for SecretCache.revoke (node mode: its stream's token SHA-256).
   */
  async watch(signal?: AbortSignal, tag?: string): Promise<SecretWatch> {
    for (;;) {
      if (signal?.aborted) throw new CastellanError('ERR_CANCELLED', 'sds: the stream ended before its certificate was ready');
      if (this.cache.current()) return this.cache.watch(tag);
      const last = this.rotation.lastError;
      if (!this.rotation.attempting || this.stopped) {
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

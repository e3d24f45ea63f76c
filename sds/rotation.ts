import type { Logger } from 'pino';
import { CastellanError, createSvidRequest, isCastellanError, type SpiffeId, type X509Svid } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';
import type { AgentMetrics } from './agent-metrics.js';
import { backoffDelay, renewalDelay, type BackoffOptions, type RenewalOptions } from './backoff.js';
import type { SignedCertificate } from './ca-client.js';
import type { SecretCache } from './secret-cache.js';
import type { BundleSet } from './secret-source.js';
import { generateWorkloadKey, type WorkloadKeyType } from './workload-key.js';
import { workloadSvid } from './workload-svid.js';
import type { RequestedTtl } from './ttl-cap.js';
import { isCaMisconfiguration } from './ca-transport-error.js';
import type { KeyObject } from 'node:crypto';

/** What the rotation reports to whoever assembles the agent (the dev command prints these). */
export type RotationEvent =
  | { readonly type: 'issued'; readonly spiffeId: SpiffeId; readonly serialHex: string; readonly notAfter: Date; readonly renewal: boolean; readonly nextRenewalAt: Date }
  | { readonly type: 'failed'; readonly spiffeId: SpiffeId | undefined; readonly code: string; readonly message: string; readonly retryInMs: number; readonly attempt: number };

export interface RotationOptions {
  readonly keyType: WorkloadKeyType;
  /** The certificate lifetime to ask for, shared by the agent's identities (whole seconds on the wire). */
  readonly ttl: RequestedTtl;
  readonly renewal?: RenewalOptions;
  readonly backoff?: BackoffOptions;
  readonly clock: AgentClock;
  readonly random?: () => number;
  /** Sends the CSR to the CA with this identity's credentials (the token file, a pod token, or the SVID). */
  readonly sign: (csrDer: Buffer, ttlSeconds: number, current: X509Svid | undefined) => Promise<SignedCertificate>;
  readonly cache: SecretCache;
  /** The newest trust bundles the agent knows (from WatchTrustBundle or any Sign answer). */
  readonly bundle: () => BundleSet | undefined;
  /** Offers the bundle that came with a Sign answer to the agent (it keeps the newest). */
  readonly offerBundle: (b: BundleSet) => void;
  /** Node mode: the identity this rotation must keep (a different answer is refused). */
  readonly spiffeId?: SpiffeId;
  readonly metrics?: AgentMetrics;
  readonly onEvent?: (e: RotationEvent) => void;
  readonly log: Logger;
}

/**
 * Keeps one identity's certificate fresh (docs/architecture.md §5): renew at `fraction ± jitter` of the lifetime with a
 * new key each time; on failure retry with capped exponential backoff and jitter while the current
 * certificate keeps being served until it really expires; publish every new certificate to the cache.
 *
 * @example
 *   const r = new IdentityRotation({ keyType: 'ec-p256', ttl: new RequestedTtl(3_600_000), clock: systemClock, sign, cache, bundle, offerBundle, log });
 *   r.start();
 */
export class IdentityRotation {
  private timer: unknown;
  private inFlight = false;
  private queued = false;
  private again = false;
  private stopped = false;
  private failures = 0;
  private svid: X509Svid | undefined;
  private spiffeIdNow: SpiffeId | undefined;
  private outcomeWaiters: (() => void)[] = [];
  /** The last failure, cleared by a success. */
  lastError: Error | undefined;
  /** The lifetime the attempt in flight (or the last one) asked for, s. */
  private askedSeconds = 0;
  /** When the next attempt is due. */
  nextAttemptAt: Date | undefined;

  constructor(private readonly o: RotationOptions) {
    this.spiffeIdNow = o.spiffeId;
  }

  /** The certificate served now (possibly expired while the CA is unreachable). */
  get current(): X509Svid | undefined {
    return this.svid;
  }

  get spiffeId(): SpiffeId | undefined {
    return this.spiffeIdNow;
  }

  /** True while a request is under way or about to start. */
  get attempting(): boolean {
    return this.inFlight || this.queued;
  }

  /** Consecutive failed attempts. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Requests the first certificate now. */
  start(): void {
    this.schedule(0);
  }

  /** Installs a certificate obtained elsewhere (node mode: the one that proved the pod's token). */
  adopt(signed: SignedCertificate, key: KeyObject): void {
    this.install(signed, workloadSvid(signed, key));
  }

  /** Renews as soon as possible (e.g. the bundle no longer holds the leaf's root). */
  renewNow(reason: string): void {
    if (this.stopped) return;
    this.o.log.info({ spiffeId: this.spiffeIdNow, reason }, 'renewing now');
    if (this.inFlight) this.again = true;
    else this.schedule(0);
  }

  /**
   * Renews within `ms` unless an attempt is under way or already due by then (the normal renewal or a
   * backoff retry): the paced re-issue after a root activation (docs/architecture.md §6) only ever brings it forward.
   * Returns whether it moved the next attempt.
   */
  renewWithin(ms: number, reason: string): boolean {
    if (this.stopped || this.inFlight || this.queued) return false;
    const at = this.o.clock.now().getTime() + Math.max(0, ms);
    if (this.nextAttemptAt !== undefined && this.nextAttemptAt.getTime() <= at) return false;
    this.o.log.info({ spiffeId: this.spiffeIdNow, reason, renewAt: new Date(at).toISOString() }, 'renewal brought forward');
    this.schedule(Math.max(0, ms));
    return true;
  }

  /** Resolves after the next attempt finishes, successful or not. */
  nextOutcome(): Promise<void> {
    return new Promise((resolve) => this.outcomeWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.outcomeWaiters.splice(0)) w();
  }

  /** Stops and forgets the current certificate and its key (node mode: the CA refuses the identity now). */
  discard(): void {
    this.stop();
    this.svid = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAttemptAt = new Date(this.o.clock.now().getTime() + ms);
    if (ms <= 0) {
      // Now means now, whatever the clock: an injected clock only decides delayed attempts.
      this.queued = true;
      queueMicrotask(() => {
        this.queued = false;
        void this.attempt();
      });
      return;
    }
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, ms);
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    this.again = false;
    try {
      const key = await generateWorkloadKey(this.o.keyType);
      // The SAN is optional (docs/architecture.md §2); once the identity is known it lets the CA refuse a mix-up.
      const csr = await createSvidRequest(key, this.spiffeIdNow);
      this.askedSeconds = this.o.ttl.seconds;
      const signed = await this.o.sign(csr, this.askedSeconds, this.svid);
      if (this.stopped) return;
      if (this.o.spiffeId !== undefined && !signed.id.equals(this.o.spiffeId)) {
        throw new CastellanError('ERR_IDENTITY_CHANGED', `sds: the CA answered for ${signed.id.toString()}, want ${this.o.spiffeId.toString()}`);
      }
      this.install(signed, workloadSvid(signed, key));
    } catch (err) {
      // A stopped rotation retries nothing (node mode: its identity was dropped); the error is kept for waiters.
      if (this.stopped) this.lastError = err instanceof Error ? err : new Error(String(err));
      else this.failed(err);
    } finally {
      this.inFlight = false;
      for (const w of this.outcomeWaiters.splice(0)) w();
      if (this.again && !this.stopped) this.schedule(0);
    }
  }

  private install(signed: SignedCertificate, svid: X509Svid): void {
    const renewal = this.svid !== undefined;
    if (this.spiffeIdNow !== undefined && !this.spiffeIdNow.equals(svid.id)) {
      this.o.log.warn({ was: this.spiffeIdNow.toString(), now: svid.id.toString() }, 'the CA issued a different identity than before; serving the new one');
    }
    this.spiffeIdNow = svid.id;
    this.svid = svid;
    this.failures = 0;
    this.lastError = undefined;
    const answered: BundleSet = Object.freeze({ own: signed.bundle, federated: [] });
    this.o.offerBundle(answered);
    // Bundle first (when it changed), then the leaf: SecretCache orders the two notifications.
    this.o.cache.update({ svid, bundles: this.o.bundle() ?? answered });
    this.o.metrics?.rotations.inc({ spiffe_id: svid.id.toString() });
    const now = this.o.clock.now().getTime();
    const delay = renewalDelay(svid.notAfter.getTime() - now, this.o.renewal, this.o.random);
    this.schedule(delay);
    const nextRenewalAt = new Date(now + delay);
    this.o.log.info(
      { spiffeId: svid.id.toString(), serial: svid.serialHex, notAfter: svid.notAfter.toISOString(), renewAt: nextRenewalAt.toISOString(), renewal },
      renewal ? 'certificate renewed' : 'certificate issued',
    );
    this.o.onEvent?.({ type: 'issued', spiffeId: svid.id, serialHex: svid.serialHex, notAfter: svid.notAfter, renewal, nextRenewalAt });
  }

  private failed(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = isCastellanError(err) ? err.code : 'ERR_INTERNAL';
    this.lastError = e;
    const learnt = this.o.ttl.learnFrom(err, this.askedSeconds);
    if (learnt !== undefined) {
      // The CA refuses lifetimes above its maximum (it does not shorten them): a configuration error,
      // said loudly once (by whichever identity's refusal taught it), then the CA's maximum is asked for
      // at once instead of failing forever.
      if (learnt.isNew) {
        this.o.log.error(
          { spiffeId: this.spiffeIdNow, configuredTtlMs: this.o.ttl.configuredMs, caMaxTtlMs: learnt.capMs, detail: e.message },
          "the configured ttl exceeds the CA's maximum; requesting the CA's maximum instead (lower the agent's ttl)",
        );
      }
      this.o.metrics?.rotationFailures.inc({ reason: code });
      this.schedule(0);
      return;
    }
    if (code === 'ERR_CA_REFUSED') {
      // The CA refused the request itself, not the workload: retrying will not help until the
      // configuration changes, so it is an error, not a warning (readiness reports it too).
      this.o.log.error({ spiffeId: this.spiffeIdNow, reason: code, detail: e.message }, "the CA refused the certificate request; check the agent's configuration (ttl, key type)");
    }
    const delay = backoffDelay(this.failures, this.o.backoff, this.o.random);
    this.failures++;
    this.o.metrics?.rotationFailures.inc({ reason: code });
    this.o.metrics?.rotationRetries.inc();
    const now = this.o.clock.now().getTime();
    const expiresInMs = this.svid ? this.svid.notAfter.getTime() - now : undefined;
    const entry = { spiffeId: this.spiffeIdNow, reason: code, detail: e.message, attempt: this.failures, retryInMs: delay, expiresInMs };
    // A misconfiguration (--ca-bundle, --ca-addr, ...) was said once, naming the flag (ca-connection.ts): not at every retry.
    const quiet = isCaMisconfiguration(err);
    if (expiresInMs !== undefined && expiresInMs <= 0) this.o.log.error(entry, 'certificate expired and renewal keeps failing; retrying');
    else if (this.svid) this.o.log[quiet ? 'debug' : 'warn'](entry, 'renewal failed; serving the current certificate until it expires and retrying');
    else this.o.log[quiet ? 'debug' : 'warn'](entry, 'certificate request failed; retrying');
    this.o.onEvent?.({ type: 'failed', spiffeId: this.spiffeIdNow, code, message: e.message, retryInMs: delay, attempt: this.failures });
    this.schedule(delay);
  }
}

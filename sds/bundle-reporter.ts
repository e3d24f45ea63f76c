import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { CastellanError, isCastellanError } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { CaClient } from './ca-client.js';
import { isCaMisconfiguration } from './ca-transport-error.js';

export interface BundleReporterOptions {
  readonly client: () => CaClient;
  /** The agent's own credential, as BundleFollower uses it; undefined: none yet, retry later. */
  readonly token: () => Promise<string | undefined>;
  readonly agentId: string;
  readonly clock: AgentClock;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
  readonly log: Logger;
}

/**
 * Tells the CA which trust-bundle sequence the agent serves (`ReportTrustBundle`, docs/architecture.md §6), after the
 * bundle was pushed to every workload, so that root activation can wait until live agents trust the
 * new root. Only the newest sequence matters: reports are coalesced (one call at a time; a newer
 * sequence replaces an unsent one), failures are retried with the agent's capped backoff, and nothing
 * here ever delays serving. A CA without the RPC (UNIMPLEMENTED, an older version) is told nothing more
 * until the agent's next connection to the CA (`reconnected`); the agent says so once, at info.
 *
 * @example
 *   const r = new BundleReporter({ client: () => ca, token, agentId, clock, log });
 *   bundles.onApplied((b) => r.report(b.sequence));
 */
export class BundleReporter {
  private wanted: number | undefined;
  private reported: number | undefined;
  private inFlight: AbortController | undefined;
  private timer: unknown;
  private failures = 0;
  private unimplemented = false;
  private saidUnimplemented = false;
  private stopped = false;

  constructor(private readonly o: BundleReporterOptions) {}

  /** The last sequence the CA accepted (for status and tests). */
  get lastReported(): number | undefined {
    return this.reported;
  }

  /** Reports `sequence` as served now; coalesced with any report not sent yet. */
  report(sequence: number): void {
    if (this.stopped) return;
    this.wanted = sequence;
    this.kick();
  }

  /**
   * A new WatchTrustBundle stream is up (the CA may have restarted, moved or been upgraded): report the
   * current sequence again at once, even if unchanged, and try the RPC again on an old CA.
   */
  reconnected(sequence: number): void {
    if (this.stopped) return;
    this.unimplemented = false;
    this.reported = undefined;
    this.failures = 0;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.report(sequence);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
  }

  private kick(): void {
    if (this.stopped || this.inFlight || this.timer !== undefined || this.unimplemented) return;
    if (this.wanted === undefined || this.wanted === this.reported) return;
    void this.send(this.wanted);
  }

  private async send(sequence: number): Promise<void> {
    const ac = new AbortController();
    this.inFlight = ac;
    try {
      const token = await this.o.token();
      if (ac.signal.aborted) return;
      if (token === undefined) throw new CastellanError('ERR_TOKEN_MISSING', 'sds: no credential to report the trust bundle with yet');
      await this.o.client().reportTrustBundle({ token, agentId: this.o.agentId, sequence, signal: ac.signal });
      if (ac.signal.aborted) return;
      this.reported = sequence;
      this.failures = 0;
      this.o.log.debug({ sequence }, 'trust-bundle sequence reported to the CA');
    } catch (err) {
      if (ac.signal.aborted) return;
      this.failed(err);
    } finally {
      if (this.inFlight === ac) this.inFlight = undefined;
      this.kick();
    }
  }

  private failed(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = isCastellanError(err) ? err.code : 'ERR_INTERNAL';
    const grpcStatus = isCastellanError(err) ? (err.context as { grpcStatus?: number } | undefined)?.grpcStatus : undefined;
    if (grpcStatus === status.UNIMPLEMENTED) {
      this.unimplemented = true;
      // Said once per agent (an old CA stays old across reconnects); later ones only at debug.
      const line = 'the CA does not implement ReportTrustBundle (an older version); not reporting on this connection';
      if (this.saidUnimplemented) this.o.log.debug({ detail: e.message }, line);
      else this.o.log.info({ detail: e.message }, line);
      this.saidUnimplemented = true;
      return;
    }
    const delay = backoffDelay(this.failures++, this.o.backoff, this.o.random);
    // A misconfiguration was said once, naming the flag (ca-connection.ts).
    this.o.log[isCaMisconfiguration(err) ? 'debug' : 'info'](
      { reason: code, detail: e.message, attempt: this.failures, retryInMs: delay, sequence: this.wanted },
      'reporting the trust-bundle sequence failed; retrying',
    );
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }
}

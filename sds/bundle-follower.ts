import type { Logger } from 'pino';
import type { CastellanError } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';
import type { AgentMetrics } from './agent-metrics.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { CaClient, TrustBundleMessage } from './ca-client.js';
import { isCaMisconfiguration } from './ca-transport-error.js';

export interface BundleFollowerOptions {
  readonly client: () => CaClient;
  /** The credential to open the stream with; undefined: none yet (node mode before the first pod), retry later. */
  readonly token: () => Promise<string | undefined>;
  readonly agentId: string;
  /** Every message; `first`: the first one of a newly opened stream (a new connection to the CA). */
  readonly onBundle: (m: TrustBundleMessage, first: boolean) => void;
  readonly clock: AgentClock;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
  readonly metrics?: AgentMetrics;
  readonly log: Logger;
}

/**
 * Follows the CA's `WatchTrustBundle` stream (docs/architecture.md §6: the CA announces a new root before it signs
 * under it) and re-opens it with capped exponential backoff whenever it ends.
 *
 * @example new BundleFollower({ client: () => ca, token: () => tokenFile.read(), agentId, onBundle, clock, log }).start();
 */
export class BundleFollower {
  private cancel: (() => void) | undefined;
  private timer: unknown;
  private failures = 0;
  private stopped = false;

  constructor(private readonly o: BundleFollowerOptions) {}

  start(): void {
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
  }

  /**
   * A credential may exist now (node mode: a pod's token was accepted): when the stream waits for one,
   * open it at once instead of after the backoff.
   */
  kick(): void {
    if (this.stopped || !this.waitingForCredential || this.timer === undefined) return;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.waitingForCredential = false;
    void this.open();
  }

  private waitingForCredential = false;

  private retry(reason: string, err?: CastellanError | Error): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.failures++, this.o.backoff, this.o.random);
    // A misconfiguration was said once, naming the flag (ca-connection.ts).
    this.o.log[isCaMisconfiguration(err) ? 'debug' : 'info']({ reason, detail: err?.message, retryInMs: delay }, 'trust-bundle stream closed; reopening');
    this.o.metrics?.bundleStreamReconnects.inc();
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.open();
    }, delay);
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let token: string | undefined;
    try {
      token = await this.o.token();
    } catch (err) {
      this.retry('no credential', err as Error);
      return;
    }
    if (this.stopped) return;
    if (token === undefined) {
      this.retry('no credential yet');
      this.waitingForCredential = true;
      return;
    }
    this.waitingForCredential = false;
    let first = true;
    this.cancel = this.o.client().watchTrustBundle({
      token,
      agentId: this.o.agentId,
      onBundle: (m) => {
        this.failures = 0; // a message proves the stream works: the next outage starts from the first delay
        const wasFirst = first;
        first = false;
        this.o.onBundle(m, wasFirst);
      },
      onEnd: (err) => {
        this.cancel = undefined;
        this.retry(err?.code ?? 'ended', err);
      },
    });
  }
}

import type { Logger } from 'pino';
import type { CastellanError } from '../workload-identity/index.js';
import type { AgentMetrics } from './agent-metrics.js';
import type { CaMisconfigurationCode } from './ca-transport-error.js';

/**
 * Whether the agent's configuration keeps it from talking to the CA (docs/agent.md): a wrong
 * `--ca-bundle`, `--ca-addr` or `--ca-server-name` is logged once at error level naming the flag (the
 * call sites log such failures at debug only), kept for /readyz and the
 * `castellan_agent_ca_connection_problem` gauge, and cleared, with one line, once the CA answers.
 *
 * The error line waits until the same problem is seen again `confirmAfterMs` after it was first seen
 * (the agent's first retry delay): a CA that is starting serves a placeholder certificate no client
 * trusts for a moment (docs/agent.md), and an agent that meets it and then gets its certificate on the
 * retry has no misconfiguration to report. Calls that fail together on one handshake (the first Sign and
 * WatchTrustBundle share it) count as one sighting, whatever their number.
 *
 * @example const conn = new CaConnection(log, { confirmAfterMs: 1000 }); new CaClient({ ..., onConnection: (p) => conn.update(p) });
 */
export class CaConnection {
  private problem: CastellanError<CaMisconfigurationCode> | undefined;
  /** When `problem`'s code was first seen in this run of failures (monotonic ms). */
  private firstSeenAt = 0;
  /** Whether the error line for `problem` went out. */
  private said = false;
  private metrics: AgentMetrics | undefined;

  constructor(
    private readonly log: Logger,
    private readonly o: {
      /** How long after the first sighting the same problem counts as confirmed, ms. */
      readonly confirmAfterMs: number;
      /** A monotonic clock, ms (performance.now by default). */
      readonly now?: () => number;
    },
  ) {}

  /** Where the state goes as a metric (the metrics are made after the CA client). */
  attach(metrics: AgentMetrics): void {
    this.metrics = metrics;
    metrics.setCaProblem(this.problem?.code);
  }

  update(p: CastellanError<CaMisconfigurationCode> | undefined): void {
    if (p === undefined) {
      if (this.problem && this.said) this.log.info({ was: this.problem.code }, 'the CA answers again');
      this.said = false;
    } else {
      const now = (this.o.now ?? performance.now.bind(performance))();
      const first = p.code !== this.problem?.code;
      if (first) {
        this.firstSeenAt = now;
        this.said = false;
      }
      const flag = p.context['flag'] as string | undefined;
      if (first) {
        this.log.debug(
          { reason: p.code, flag, ca: p.context['caAddress'], detail: p.message },
          'the CA connection failed in a way a misconfiguration would; said at error if it still fails so after the first retry delay',
        );
      } else if (!this.said && now - this.firstSeenAt >= this.o.confirmAfterMs) {
        this.said = true;
        this.log.error(
          { reason: p.code, flag, ca: p.context['caAddress'], detail: p.message },
          `cannot talk to the CA: ${flag ? `check ${flag}` : "the CA's serving certificate"}; retrying with backoff (said once; castellan_agent_ca_connection_problem stays 1 until it works)`,
        );
      }
    }
    this.problem = p;
    this.metrics?.setCaProblem(p?.code);
  }

  /** The misconfiguration that fails calls now, for /readyz. */
  get current(): CastellanError<CaMisconfigurationCode> | undefined {
    return this.problem;
  }
}

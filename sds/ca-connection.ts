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
 * The error line waits for a second attempt failing the same way: a CA that is starting serves a
 * placeholder certificate no client trusts for a moment (docs/agent.md), and an agent that meets it once
 * and then gets its certificate has no misconfiguration to report.
 *
 * @example const conn = new CaConnection(log); new CaClient({ ..., onConnection: (p) => conn.update(p) });
 */
export class CaConnection {
  private problem: CastellanError<CaMisconfigurationCode> | undefined;
  /** Attempts in a row that failed with `problem`'s code. */
  private seen = 0;
  /** Whether the error line for `problem` went out. */
  private said = false;
  private metrics: AgentMetrics | undefined;

  constructor(private readonly log: Logger) {}

  /** Where the state goes as a metric (the metrics are made after the CA client). */
  attach(metrics: AgentMetrics): void {
    this.metrics = metrics;
    metrics.setCaProblem(this.problem?.code);
  }

  update(p: CastellanError<CaMisconfigurationCode> | undefined): void {
    if (p === undefined) {
      if (this.problem && this.said) this.log.info({ was: this.problem.code }, 'the CA answers again');
      this.seen = 0;
      this.said = false;
    } else {
      if (p.code !== this.problem?.code) {
        this.seen = 0;
        this.said = false;
      }
      this.seen++;
      const flag = p.context['flag'] as string | undefined;
      if (this.seen === 1) {
        this.log.debug(
          { reason: p.code, flag, ca: p.context['caAddress'], detail: p.message },
          'the CA connection failed in a way a misconfiguration would; said at error if the next attempt fails the same way',
        );
      } else if (!this.said) {
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

import { Counter, Gauge, type Registry } from 'prom-client';
import { registerBuildInfo, type SpiffeId } from '../workload-identity/index.js';
import type { AgentErrorCode } from './agent-errors.js';
import { CA_MISCONFIGURATION_CODES, type CaMisconfigurationCode } from './ca-transport-error.js';

/**
 * Every reason a certificate request can fail with (`castellan_agent_rotation_failures_total{reason}`),
 * pre-set to 0 at start so `rate()` sees the first failure and `absent()` alerts work.
 */
const ROTATION_FAILURE_REASONS = [
  'ERR_CA_UNAVAILABLE',
  'ERR_CA_REFUSED',
  'ERR_CA_RESPONSE',
  'ERR_TOKEN_REJECTED',
  'ERR_PERMISSION_DENIED',
  'ERR_TOKEN_FILE',
  'ERR_IDENTITY_CHANGED',
  ...CA_MISCONFIGURATION_CODES,
  'ERR_INTERNAL',
] as const satisfies readonly (AgentErrorCode | 'ERR_INTERNAL')[];

/** Every reason node mode refuses a stream's token (`castellan_agent_node_token_refusals_total{reason}`). */
const NODE_TOKEN_REFUSAL_REASONS = ['ERR_TOKEN_MALFORMED', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_REJECTED', 'ERR_PERMISSION_DENIED'] as const;

/** What the metrics read at scrape time: the certificates the agent serves now. */
export type ServedCertificates = () => Iterable<{ readonly id: SpiffeId; readonly notAfter: Date }>;

/**
 * The agent's Prometheus metrics (docs/architecture.md §9) in the registry it is given (so the CLI's `/metrics` and
 * the SDS servers' metrics share one registry).
 *
 * @example const m = new AgentMetrics(new Registry(), () => agent.certificates(), () => new Date());
 */
export class AgentMetrics {
  readonly rotations: Counter<'spiffe_id'>;
  readonly rotationRetries: Counter<never>;
  readonly rotationFailures: Counter<'reason'>;
  readonly bundleUpdates: Counter<never>;
  readonly bundleStreamReconnects: Counter<never>;
  readonly nodeTokenRefusals: Counter<'reason'>;
  /** 1 for the misconfiguration that fails the agent's connection to the CA now (docs/agent.md), else 0. */
  private readonly caConnectionProblem: Gauge<'reason'>;

  constructor(
    readonly registry: Registry,
    served: ServedCertificates,
    now: () => Date,
    bundleSequence: () => number | undefined,
  ) {
    const registers = [registry];
    registerBuildInfo(registry);
    new Gauge({
      name: 'castellan_agent_certificate_expiry_seconds',
      help: 'Seconds until each served workload certificate expires (negative: expired, still being retried).',
      labelNames: ['spiffe_id'] as const,
      registers,
      collect() {
        this.reset();
        const t = now().getTime();
        for (const c of served()) this.set({ spiffe_id: c.id.toString() }, (c.notAfter.getTime() - t) / 1000);
      },
    });
    new Gauge({
      name: 'castellan_agent_certificate_expiry_timestamp_seconds',
      help: 'When each served workload certificate expires, Unix time in seconds.',
      labelNames: ['spiffe_id'] as const,
      registers,
      collect() {
        this.reset();
        for (const c of served()) this.set({ spiffe_id: c.id.toString() }, c.notAfter.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'castellan_agent_trust_bundle_sequence',
      help: 'Sequence of the trust bundle the agent serves.',
      registers,
      collect() {
        const s = bundleSequence();
        if (s !== undefined) this.set(s);
      },
    });
    this.rotations = new Counter({
      name: 'castellan_agent_rotations_total',
      help: 'Certificates obtained from the CA (first issuance and renewals).',
      labelNames: ['spiffe_id'] as const,
      registers,
    });
    this.rotationRetries = new Counter({ name: 'castellan_agent_rotation_retries_total', help: 'Renewal retries scheduled after a failed attempt.', registers });
    this.rotationFailures = new Counter({
      name: 'castellan_agent_rotation_failures_total',
      help: 'Failed certificate requests, by error code.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.bundleUpdates = new Counter({ name: 'castellan_agent_trust_bundle_updates_total', help: 'Trust-bundle changes received from the CA.', registers });
    this.bundleStreamReconnects = new Counter({ name: 'castellan_agent_trust_bundle_reconnects_total', help: 'WatchTrustBundle streams re-opened after they ended.', registers });
    this.nodeTokenRefusals = new Counter({
      name: 'castellan_agent_node_token_refusals_total',
      help: 'Node mode: stream tokens the CA refused, by error code.',
      labelNames: ['reason'] as const,
      registers,
    });
    for (const reason of ROTATION_FAILURE_REASONS) this.rotationFailures.inc({ reason }, 0);
    for (const reason of NODE_TOKEN_REFUSAL_REASONS) this.nodeTokenRefusals.inc({ reason }, 0);
    this.caConnectionProblem = new Gauge({
      name: 'castellan_agent_ca_connection_problem',
      help: "1 while the agent's calls to the CA fail because of its configuration, by reason: ERR_CA_UNTRUSTED (--ca-bundle), ERR_CA_NOT_TLS (--ca-addr), ERR_CA_NAME_MISMATCH (--ca-server-name), ERR_CA_CERT_EXPIRED (the CA's certificate or this clock).",
      labelNames: ['reason'] as const,
      registers,
    });
    this.setCaProblem(undefined);
  }

  /** Which misconfiguration fails the connection to the CA now (undefined: none). */
  setCaProblem(code: CaMisconfigurationCode | undefined): void {
    for (const reason of CA_MISCONFIGURATION_CODES) this.caConnectionProblem.set({ reason }, reason === code ? 1 : 0);
  }
}

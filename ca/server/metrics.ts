import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerBuildInfo, type AuthErrorCode } from '../../workload-identity/index.js';
import type { CaErrorCode } from '../errors.js';
import type { SigningAuthority } from '../issuer.js';
import type { LedgerErrorCode, LedgerStats } from '../ledger/index.js';

/**
 * Every reason an authentication can fail with (`castellan_authentication_failures_total{reason}`):
 * pre-set to 0 at start so `rate()` sees the first failure and `absent()` alerts work.
 */
const AUTH_FAILURE_REASONS = [
  'ERR_TOKEN_MISSING',
  'ERR_TOKEN_MALFORMED',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_NOT_YET_VALID',
  'ERR_TOKEN_AUDIENCE',
  'ERR_TOKEN_ISSUER',
  'ERR_TOKEN_ALGORITHM',
  'ERR_TOKEN_SIGNATURE',
  'ERR_TOKEN_UNKNOWN_KEY',
  'ERR_TOKEN_REJECTED',
  'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
  'ERR_TOKEN_POD_BINDING',
  'ERR_CLIENT_CERT_INVALID',
  'ERR_AUTH_BACKEND_UNAVAILABLE',
  'ERR_RATE_LIMITED', // the per-address limit runs before authentication
  'ERR_INTERNAL',
] as const satisfies readonly (AuthErrorCode | CaErrorCode | 'ERR_INTERNAL')[];

/** Every outcome of a CSR (`castellan_csr_total{outcome}`): issued, or the refusal's stable code. */
export const CSR_OUTCOMES = [
  'issued',
  ...AUTH_FAILURE_REASONS,
  'ERR_POLICY_DENIED',
  'ERR_SAN_MISMATCH',
  'ERR_CSR_MALFORMED',
  'ERR_CSR_TRUNCATED',
  'ERR_CSR_SIGNATURE',
  'ERR_CSR_SIGNATURE_ALGORITHM',
  'ERR_CSR_KEY_UNSUPPORTED',
  'ERR_CSR_KEY_WEAK',
  'ERR_CSR_CA_REQUESTED',
  'ERR_CSR_KEY_USAGE',
  'ERR_TTL_INVALID',
  'ERR_TTL_TOO_LONG',
  'ERR_CANCELLED',
  'ERR_ISSUER_EXPIRED',
  'ERR_SIGNER',
  'ERR_LEDGER_UNAVAILABLE',
] as const satisfies readonly (AuthErrorCode | CaErrorCode | LedgerErrorCode | 'ERR_INTERNAL' | 'issued')[];

/** The APIs that issue (`castellan_csr_total{api}`). */
const CSR_APIS = ['istio', 'castellan'] as const;

/** What `castellan_ledger_errors_total{kind}` counts, from the ledger writer's LedgerStats. */
const LEDGER_ERROR_KINDS = {
  commit_failed: 'commitFailures',
  checkpoint_failed: 'checkpointFailures',
  checkpoint_skipped: 'checkpointsSkipped',
  overflow: 'overflows',
} as const satisfies Record<string, Exclude<keyof LedgerStats, 'broken'>>;

export class CaMetrics {
  readonly registry = new Registry();
  readonly csrs = new Counter({
    name: 'castellan_csr_total',
    help: 'CSRs handled, by outcome (issued, or the refusal code) and API.',
    labelNames: ['outcome', 'api'] as const,
    registers: [this.registry],
  });
  readonly issuanceSeconds = new Histogram({
    name: 'castellan_issuance_duration_seconds',
    help: 'Time from request to signed chain, authentication included.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'castellan_authentication_failures_total',
    help: 'Callers refused by authentication, by reason code.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: 'castellan_connections_closed_total',
    help: 'Connections the CA closed itself, by reason (per_peer_limit, request_timeout).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly jwtSvids = new Counter({
    name: 'castellan_jwt_svid_total',
    help: 'JWT-SVID requests handled (SignJwtSvid), by outcome (issued, or the refusal code).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly bundleWatchers = new Gauge({
    name: 'castellan_trust_bundle_watchers',
    help: 'Open WatchTrustBundle streams.',
    registers: [this.registry],
  });

  constructor(authorities: () => readonly (SigningAuthority & { id: number; state?: string; root: { notAfter: Date } })[], now: () => Date) {
    for (const api of CSR_APIS) for (const outcome of CSR_OUTCOMES) this.csrs.inc({ outcome, api }, 0);
    for (const reason of AUTH_FAILURE_REASONS) this.authFailures.inc({ reason }, 0);
    for (const outcome of ['issued', 'ERR_JWT_AUDIENCE', 'ERR_JWT_NO_KEY', 'ERR_POLICY_DENIED', 'ERR_RATE_LIMITED']) this.jwtSvids.inc({ outcome }, 0);
    registerBuildInfo(this.registry);
    new Gauge({
      name: 'castellan_authority_expiry_seconds',
      help: 'Seconds until each root and issuing intermediate expires.',
      labelNames: ['authority', 'kind'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const t = now().getTime();
        for (const a of authorities()) {
          this.set({ authority: String(a.id), kind: 'root' }, (a.root.notAfter.getTime() - t) / 1000);
          this.set({ authority: String(a.id), kind: 'intermediate' }, (a.issuer.notAfter.getTime() - t) / 1000);
        }
      },
    });
    // Which slot state each authority is in (docs/root-rotation.md): alerts join on it to watch only the
    // active root and intermediate (retired slots are kept, and their certificates may expire unheeded).
    new Gauge({
      name: 'castellan_authority_state',
      help: 'Always 1, one series per authority: its slot state (prepared, active, retired).',
      labelNames: ['authority', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of authorities()) if (a.state) this.set({ authority: String(a.id), state: a.state }, 1);
      },
    });
    // The same as time stamps (like Istio's citadel_server_root_cert_expiry_timestamp): an alert can
    // say "expires at" and compare with time() without depending on when the scrape ran.
    new Gauge({
      name: 'castellan_authority_expiry_timestamp_seconds',
      help: 'When each root and issuing intermediate expires, Unix time in seconds.',
      labelNames: ['authority', 'kind'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of authorities()) {
          this.set({ authority: String(a.id), kind: 'root' }, a.root.notAfter.getTime() / 1000);
          this.set({ authority: String(a.id), kind: 'intermediate' }, a.issuer.notAfter.getTime() / 1000);
        }
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** castellan_signing_workers: the signing worker threads ready now (docs/architecture.md §4). */
  observeSigningWorkers(running: () => number): void {
    new Gauge({
      name: 'castellan_signing_workers',
      help: 'Signing worker threads ready (config signingWorkers); 0: CSRs are checked and leaves signed on the event loop and the libuv pool.',
      registers: [this.registry],
      collect() {
        this.set(running());
      },
    });
  }

  /** The CA's own serving certificate: seconds until it expires and when, once it exists. */
  observeServing(expiresAt: () => Date | undefined, now: () => Date): void {
    // Whole seconds, as the certificate encodes its notAfter (the issuer's Date may carry milliseconds).
    const at = () => {
      const t = expiresAt()?.getTime();
      return t === undefined || t <= 0 ? undefined : Math.floor(t / 1000) * 1000;
    };
    new Gauge({
      name: 'castellan_serving_certificate_expiry_seconds',
      help: "Seconds until the CA's serving (TLS) certificate expires; it is renewed at half its life.",
      registers: [this.registry],
      collect() {
        const t = at();
        if (t === undefined) this.reset();
        else this.set((t - now().getTime()) / 1000);
      },
    });
    new Gauge({
      name: 'castellan_serving_certificate_expiry_timestamp_seconds',
      help: "When the CA's serving (TLS) certificate expires, Unix time in seconds.",
      registers: [this.registry],
      collect() {
        const t = at();
        if (t === undefined) this.reset();
        else this.set(t / 1000);
      },
    });
  }

  /** The issuance ledger writer's trouble (docs/architecture.md §7): failed commits and checkpoints, overflows, broken. */
  observeLedger(stats: LedgerStats): void {
    new Counter({
      name: 'castellan_ledger_errors_total',
      help: 'Ledger writer failures by kind: commit_failed (a batch transaction failed; its requests got UNAVAILABLE), checkpoint_failed, checkpoint_skipped (the signing intermediate is outside its validity), overflow (too many records waiting).',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [kind, field] of Object.entries(LEDGER_ERROR_KINDS)) this.inc({ kind }, stats[field]);
      },
    });
    new Gauge({
      name: 'castellan_ledger_broken',
      help: '1 when the ledger was found truncated or rewritten under this CA (it issues nothing until recovered; docs/ledger.md), else 0.',
      registers: [this.registry],
      collect() {
        this.set(stats.broken ? 1 : 0);
      },
    });
  }

  /** Rotation gauges (docs/architecture.md §6): the bundle sequence served, and this replica's live agents by whether they serve it. */
  observeRotation(o: { sequence: () => number; liveAgentSequences: () => readonly number[] }): void {
    new Gauge({
      name: 'castellan_trust_bundle_sequence',
      help: 'Sequence number of the trust bundle this CA serves.',
      registers: [this.registry],
      collect() {
        this.set(o.sequence());
      },
    });
    new Gauge({
      name: 'castellan_agents',
      help: 'Live agents heard by this replica, by whether they report the current trust bundle (current) or an older one (lagging).',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const seq = o.sequence();
        const live = o.liveAgentSequences();
        const current = live.filter((s) => s >= seq).length;
        this.set({ state: 'current' }, current);
        this.set({ state: 'lagging' }, live.length - current);
      },
    });
  }

  /**
   * The CA's store and leadership (docs/kubernetes.md): whether the store can be read and watched now,
   * and whether this replica runs the singleton jobs.
   */
  observeStore(o: { problem: () => boolean; leader: () => boolean }): void {
    new Gauge({
      name: 'castellan_store_problem',
      help: 'Whether the CA cannot read or watch its store now (1): it keeps signing with the state it has.',
      registers: [this.registry],
      collect() {
        this.set(o.problem() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'castellan_leader',
      help: 'Whether this replica holds the leader Lease and runs the singleton jobs (1); always 1 with a directory store.',
      registers: [this.registry],
      collect() {
        this.set(o.leader() ? 1 : 0);
      },
    });
  }
}

import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/** Which server a metric is about. */
export type WorkloadApi = 'sds_sotw' | 'sds_delta' | 'sds_fetch' | 'x509_svid' | 'x509_bundles' | 'jwt_svid' | 'jwt_bundles' | 'jwt_validate';
const WORKLOAD_APIS: readonly WorkloadApi[] = ['sds_sotw', 'sds_delta', 'sds_fetch', 'x509_svid', 'x509_bundles', 'jwt_svid', 'jwt_bundles', 'jwt_validate'];
/** The unary calls: no streams, no first-response time. */
const UNARY_APIS: readonly WorkloadApi[] = ['sds_fetch', 'jwt_svid', 'jwt_validate'];

/** The metric already in `registry` under `name` (a socket restarted in the same process), or a new one. */
function once<M extends Metric>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/**
 * Prometheus metrics of the workload-facing servers (docs/architecture.md §9: SDS streams, pushes, NACKs), registered
 * in the registry the agent passes (or a private one).
 *
 * @example
 *   const m = new SdsMetrics(registry);
 *   m.pushes.inc({ api: 'sds_sotw' });
 */
export class SdsMetrics {
  readonly streams: Gauge<'api'>;
  readonly pushes: Counter<'api'>;
  readonly nacks: Counter<'api'>;
  readonly rejected: Counter<'api' | 'reason'>;
  readonly firstSecretSeconds: Histogram<'api'>;

  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    this.streams = once(
      registry,
      'castellan_sds_open_streams',
      () => new Gauge({ name: 'castellan_sds_open_streams', help: 'Open SDS and Workload API streams, by API.', labelNames: ['api'], registers }),
    );
    this.pushes = once(
      registry,
      'castellan_sds_pushes_total',
      () => new Counter({ name: 'castellan_sds_pushes_total', help: 'Responses sent to workloads (first answers and pushes), by API.', labelNames: ['api'], registers }),
    );
    this.nacks = once(
      registry,
      'castellan_sds_nacks_total',
      () => new Counter({ name: 'castellan_sds_nacks_total', help: 'SDS responses rejected by the client (requests with error_detail), by API.', labelNames: ['api'], registers }),
    );
    this.rejected = once(
      registry,
      'castellan_sds_rejected_calls_total',
      () =>
        new Counter({ name: 'castellan_sds_rejected_calls_total', help: 'Calls ended with an error status, by API and reason code.', labelNames: ['api', 'reason'], registers }),
    );
    this.firstSecretSeconds = once(
      registry,
      'castellan_sds_first_response_seconds',
      () =>
        new Histogram({
          name: 'castellan_sds_first_response_seconds',
          help: "Time from a stream's first request (SDS) or start (Workload API) to its first response.",
          labelNames: ['api'],
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30],
          registers,
        }),
    );
    // Every API's series from the start (at 0), so rate() sees the first push or NACK and absent()
    // alerts work. The reasons of rejected calls are open-ended error codes: those series appear with
    // their first occurrence (pre-setting every API x code would add ~100 series to every agent).
    for (const api of WORKLOAD_APIS) {
      this.pushes.inc({ api }, 0);
      if (!UNARY_APIS.includes(api)) {
        this.streams.inc({ api }, 0);
        this.firstSecretSeconds.zero({ api });
      }
      if (api === 'sds_sotw' || api === 'sds_delta') this.nacks.inc({ api }, 0);
    }
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SigningAuthority } from '../issuer.js';

/** The CA's Prometheus metrics (DESIGN §9), in a registry of its own. */
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
  readonly bundleWatchers = new Gauge({
    name: 'castellan_trust_bundle_watchers',
    help: 'Open WatchTrustBundle streams.',
    registers: [this.registry],
  });

  constructor(authorities: () => readonly (SigningAuthority & { id: number; root: { notAfter: Date } })[], now: () => Date) {
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
    collectDefaultMetrics({ register: this.registry });
  }

  /** Rotation gauges (DESIGN §6): the bundle sequence served, and this replica's live agents by whether they serve it. */
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
}

import { buildInfo } from '../../workload-identity/index.js';
import type { LedgerHealth, LedgerStats } from '../ledger/index.js';
import type { RootStatus } from './rotation-status.js';

/**
 * What a running CA says about its own health (RootAdmin GetHealth, `castellan check --server`,
 * `castellan version --server`): its build, readiness, serving certificate, ledger and rotation state.
 * Values only (JSON); the judging is the client's (docs/cli.md, `castellan check`).
 */
export interface CaHealth {
  readonly server: {
    readonly version: string;
    readonly commit: string;
    readonly nodeVersion: string;
    /** This replica's name (config replicaId, default the host name). */
    readonly replica: string;
    /** Whether this replica runs the singleton jobs (the Kubernetes Lease holder; a directory store: always). */
    readonly leader: boolean;
  };
  /** /readyz: ready, or why not. */
  readonly ready: boolean;
  readonly notReady?: string;
  /** Problems that do not stop serving (a store it cannot watch, a lost lease). */
  readonly notes: readonly string[];
  readonly serving: { readonly notAfter: string };
  readonly ledger: {
    /** False with ledger.enabled: false (benchmarks only): nothing is recorded. */
    readonly enabled: boolean;
    readonly location?: string;
    /** The writer found records it committed gone or changed: it issues nothing until recovered. */
    readonly broken: boolean;
    readonly commitFailures: number;
    readonly checkpointFailures: number;
    readonly checkpointsSkipped: number;
    /** The anchors as checked now (record 1, the head witness's checkpoint). */
    readonly anchors?: LedgerHealth;
  };
  readonly rotation: RootStatus;
}

/**
 * Assembles a CaHealth from what the server and its composition root know.
 *
 * @example const h = caHealth({ ready: undefined, notes: [], servingNotAfter, ledger, rotation, replica: 'ca-0', leader: true });
 */
export function caHealth(o: {
  notReady: string | undefined;
  notes: readonly string[];
  servingNotAfter: Date;
  ledger: { location: string; stats: LedgerStats; anchors?: LedgerHealth } | undefined;
  rotation: RootStatus;
  replica: string;
  leader: boolean;
}): CaHealth {
  const b = buildInfo();
  const l = o.ledger;
  return {
    server: { version: b.version, commit: b.commit, nodeVersion: b.nodeVersion, replica: o.replica, leader: o.leader },
    ready: o.notReady === undefined,
    ...(o.notReady !== undefined ? { notReady: o.notReady } : {}),
    notes: [...o.notes],
    serving: { notAfter: o.servingNotAfter.toISOString() },
    ledger: l
      ? {
          enabled: true,
          location: l.location,
          broken: l.stats.broken,
          commitFailures: l.stats.commitFailures,
          checkpointFailures: l.stats.checkpointFailures,
          checkpointsSkipped: l.stats.checkpointsSkipped,
          ...(l.anchors ? { anchors: l.anchors } : {}),
        }
      : { enabled: false, broken: false, commitFailures: 0, checkpointFailures: 0, checkpointsSkipped: 0 },
    rotation: o.rotation,
  };
}

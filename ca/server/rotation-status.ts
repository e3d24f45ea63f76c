import { intermediateRotationDue, retiringAuthorities, type AgentReport } from '../authority-rotation.js';
import type { KeyProvider } from '../key-provider.js';
import { loadCa, storeOf, type CaDirectory, type CaStoreRef } from '../load-ca.js';
import { readAgentReports } from './agent-tracker.js';
import { DEFAULT_INTERMEDIATE_ROTATE_AT } from './ca-config-defaults.js';

/** One authority slot as `root status` and `check` show it. */
export interface SlotStatus {
  id: number;
  state: 'prepared' | 'active' | 'retired';
  inBundle: boolean;
  root: { subject: string; keyId: string; notAfter: string };
  issuer: { subject: string; keyId: string; serial: string; notAfter: string };
  crossSigned: boolean;
  createdAt: string;
  activatedAt?: string;
  retiredAt?: string;
}

/** What `castellan root status` reports (also its JSON output) and `castellan check` judges. */
export interface RootStatus {
  trustDomain: string;
  bundleSequence: number;
  /** idle: one root; prepared: a new root waits for activation; activated: the old root is still in the bundle. */
  phase: 'idle' | 'prepared' | 'activated';
  reissueSpreadSeconds: number;
  authorities: SlotStatus[];
  /** When the active intermediate is rotated automatically (at the CA's configured fraction); absent: never. */
  intermediateRotationDue?: string;
  /** The fraction used: given, else what the running CA published, else the default. */
  intermediateRotateAt: number;
  agents: {
    known: boolean;
    why?: string;
    live: number;
    current: number;
    /** Live agents that do not serve the current bundle sequence. */
    lagging: AgentReport[];
    /** Live agents whose bundle lacks the active root (their workloads reject new leaves). */
    withoutActiveRoot: AgentReport[];
    replicas: { replica: string; writtenAt: string; servingSince?: string; intermediateRotateAt?: number }[];
  };
  pendingRecords: number;
}

/**
 * The rotation state of a CA directory and what its running replicas report about their agents.
 *
 * @example const s = await rootStatus('/ca', new Date(), { rotateAt: 0.5 });
 */
export async function rootStatus(ref: CaStoreRef, now: Date, o: { rotateAt?: number; livenessMs?: number; keys?: KeyProvider }): Promise<RootStatus> {
  const store = storeOf(ref);
  const ca = await loadCa(store, o.keys);
  const view = await readAgentReports(store.agentReports, now, o.livenessMs !== undefined ? { livenessMs: o.livenessMs } : {});
  const lagging = view.live.filter((a) => a.sequence < ca.bundleSequence);
  const activeRootSince = ca.active.record.bundleSequenceAdded ?? 1;
  const rotateAt = o.rotateAt ?? view.replicas.find((r) => r.intermediateRotateAt !== undefined)?.intermediateRotateAt ?? DEFAULT_INTERMEDIATE_ROTATE_AT;
  return {
    trustDomain: ca.trustDomain.name,
    bundleSequence: ca.bundleSequence,
    phase: phaseOf(ca),
    reissueSpreadSeconds: ca.reissueSpreadSeconds,
    authorities: ca.authorities.map((a) => ({
      id: a.id,
      state: a.state,
      inBundle: ca.bundle.some((r) => r.der.equals(a.root.der)) && (a.state !== 'retired' || a.record.inBundle !== false),
      root: { subject: a.root.cert.subject, keyId: a.root.ski.toString('hex'), notAfter: a.root.notAfter.toISOString() },
      issuer: { subject: a.issuer.cert.subject, keyId: a.issuer.ski.toString('hex'), serial: a.issuer.serialHex, notAfter: a.issuer.notAfter.toISOString() },
      crossSigned: a.crossSigned !== undefined,
      createdAt: a.record.createdAt,
      ...(a.record.activatedAt ? { activatedAt: a.record.activatedAt } : {}),
      ...(a.record.retiredAt ? { retiredAt: a.record.retiredAt } : {}),
    })),
    ...(rotateAt < 1 ? { intermediateRotationDue: intermediateRotationDue(ca, rotateAt).toISOString() } : {}),
    intermediateRotateAt: rotateAt,
    agents: {
      known: view.known,
      ...(view.why ? { why: view.why } : {}),
      live: view.live.length,
      current: view.live.length - lagging.length,
      lagging,
      withoutActiveRoot: view.live.filter((a) => a.sequence < activeRootSince),
      replicas: view.replicas,
    },
    pendingRecords: ca.pendingRecords.length,
  };
}

function phaseOf(ca: CaDirectory): RootStatus['phase'] {
  if (ca.prepared) return 'prepared';
  return retiringAuthorities(ca).length > 0 ? 'activated' : 'idle';
}

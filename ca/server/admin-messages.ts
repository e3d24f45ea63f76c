import type { CaV1 } from '../../proto-types/index.js';
import type { AgentReport } from '../authority-rotation.js';
import type { LedgerHealth } from '../ledger/index.js';
import type { CaHealth } from './ca-health.js';
import type { RootStatus, SlotStatus } from './rotation-status.js';

/**
 * RootAdmin's typed answers (proto/castellan/ca/v1/ca.proto: RootStatus, CaHealth) from the values the
 * CA computes, and back. `xOf(xMessage(v))` is `v` again, key order included, so that `castellan root
 * status --server --output json` prints what `--dir` prints. Optional values are proto3 `optional`
 * fields: absent stays absent, an empty string stays an empty string.
 */

/** `{ [key]: value }` when the value is there, else nothing (proto3 optional fields, exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}

function agentReportMessage(a: AgentReport): CaV1.AgentReport {
  return { agentId: a.agentId, ...optional('identity', a.identity), ...optional('peer', a.peer), sequence: a.sequence, lastSeen: a.lastSeen, connected: a.connected };
}

function agentReportOf(m: CaV1.AgentReport__Output): AgentReport {
  return { agentId: m.agentId, ...optional('identity', m.identity), ...optional('peer', m.peer), sequence: m.sequence, lastSeen: m.lastSeen, connected: m.connected };
}

/**
 * The RootStatus message of a status (RootStepResponse.status, CaHealth.rotation).
 *
 * @example stepResponse.status = rootStatusMessage(await admin.status());
 */
export function rootStatusMessage(s: RootStatus): CaV1.RootStatus {
  return {
    trustDomain: s.trustDomain,
    bundleSequence: s.bundleSequence,
    phase: s.phase,
    reissueSpreadSeconds: s.reissueSpreadSeconds,
    authorities: s.authorities.map((a) => ({
      id: a.id,
      state: a.state,
      inBundle: a.inBundle,
      root: { subject: a.root.subject, keyId: a.root.keyId, notAfter: a.root.notAfter },
      issuer: { subject: a.issuer.subject, keyId: a.issuer.keyId, serial: a.issuer.serial, notAfter: a.issuer.notAfter },
      crossSigned: a.crossSigned,
      createdAt: a.createdAt,
      ...optional('activatedAt', a.activatedAt),
      ...optional('retiredAt', a.retiredAt),
    })),
    ...optional('intermediateRotationDue', s.intermediateRotationDue),
    intermediateRotateAt: s.intermediateRotateAt,
    agents: {
      known: s.agents.known,
      ...optional('why', s.agents.why),
      live: s.agents.live,
      current: s.agents.current,
      lagging: s.agents.lagging.map(agentReportMessage),
      withoutActiveRoot: s.agents.withoutActiveRoot.map(agentReportMessage),
      replicas: s.agents.replicas.map((r) => ({
        replica: r.replica,
        writtenAt: r.writtenAt,
        ...optional('servingSince', r.servingSince),
        ...optional('intermediateRotateAt', r.intermediateRotateAt),
      })),
    },
    pendingRecords: s.pendingRecords,
  };
}

/**
 * The status a RootStatus message carries. Phases and states are taken as the CA wrote them.
 *
 * @example const status = r.status ? rootStatusOf(r.status) : JSON.parse(r.statusJson);
 */
export function rootStatusOf(m: CaV1.RootStatus__Output): RootStatus {
  const agents = m.agents;
  return {
    trustDomain: m.trustDomain,
    bundleSequence: m.bundleSequence,
    phase: m.phase as RootStatus['phase'],
    reissueSpreadSeconds: m.reissueSpreadSeconds,
    authorities: m.authorities.map(
      (a): SlotStatus => ({
        id: a.id,
        state: a.state as SlotStatus['state'],
        inBundle: a.inBundle,
        root: { subject: a.root?.subject ?? '', keyId: a.root?.keyId ?? '', notAfter: a.root?.notAfter ?? '' },
        issuer: { subject: a.issuer?.subject ?? '', keyId: a.issuer?.keyId ?? '', serial: a.issuer?.serial ?? '', notAfter: a.issuer?.notAfter ?? '' },
        crossSigned: a.crossSigned,
        createdAt: a.createdAt,
        ...optional('activatedAt', a.activatedAt),
        ...optional('retiredAt', a.retiredAt),
      }),
    ),
    ...optional('intermediateRotationDue', m.intermediateRotationDue),
    intermediateRotateAt: m.intermediateRotateAt,
    agents: {
      known: agents?.known ?? false,
      ...optional('why', agents?.why),
      live: agents?.live ?? 0,
      current: agents?.current ?? 0,
      lagging: (agents?.lagging ?? []).map(agentReportOf),
      withoutActiveRoot: (agents?.withoutActiveRoot ?? []).map(agentReportOf),
      replicas: (agents?.replicas ?? []).map((r) => ({
        replica: r.replica,
        writtenAt: r.writtenAt,
        ...optional('servingSince', r.servingSince),
        ...optional('intermediateRotateAt', r.intermediateRotateAt),
      })),
    },
    pendingRecords: m.pendingRecords,
  };
}

function anchorsMessage(a: LedgerHealth): CaV1.LedgerAnchors {
  return { state: a.state, ...optional('location', a.location), ...optional('lastSeq', a.lastSeq), ...optional('headSeq', a.headSeq), ...optional('problem', a.problem) };
}

function anchorsOf(m: CaV1.LedgerAnchors__Output): LedgerHealth {
  return {
    state: m.state as LedgerHealth['state'],
    ...optional('location', m.location),
    ...optional('lastSeq', m.lastSeq),
    ...optional('headSeq', m.headSeq),
    ...optional('problem', m.problem),
  };
}

/**
 * The CaHealth message of the CA's health (GetHealthResponse.health).
 *
 * @example return { healthJson: JSON.stringify(h), health: caHealthMessage(h) };
 */
export function caHealthMessage(h: CaHealth): CaV1.CaHealth {
  const l = h.ledger;
  return {
    server: { ...h.server },
    ready: h.ready,
    ...optional('notReady', h.notReady),
    notes: [...h.notes],
    servingNotAfter: h.serving.notAfter,
    ledger: {
      enabled: l.enabled,
      ...optional('location', l.location),
      broken: l.broken,
      commitFailures: l.commitFailures,
      checkpointFailures: l.checkpointFailures,
      checkpointsSkipped: l.checkpointsSkipped,
      ...(l.anchors ? { anchors: anchorsMessage(l.anchors) } : {}),
    },
    rotation: rootStatusMessage(h.rotation),
  };
}

/**
 * The health a CaHealth message carries.
 *
 * @example const h = r.health ? caHealthOf(r.health) : JSON.parse(r.healthJson);
 */
export function caHealthOf(m: CaV1.CaHealth__Output): CaHealth {
  const s = m.server;
  const l = m.ledger;
  return {
    server: { version: s?.version ?? '', commit: s?.commit ?? '', nodeVersion: s?.nodeVersion ?? '', replica: s?.replica ?? '', leader: s?.leader ?? false },
    ready: m.ready,
    ...optional('notReady', m.notReady),
    notes: m.notes,
    serving: { notAfter: m.servingNotAfter },
    ledger: {
      enabled: l?.enabled ?? false,
      ...optional('location', l?.location),
      broken: l?.broken ?? false,
      commitFailures: l?.commitFailures ?? 0,
      checkpointFailures: l?.checkpointFailures ?? 0,
      checkpointsSkipped: l?.checkpointsSkipped ?? 0,
      ...(l?.anchors ? { anchors: anchorsOf(l.anchors) } : {}),
    },
    rotation: rootStatusOf(m.rotation ?? emptyRootStatus),
  };
}

/** A RootStatus message with nothing set, as grpc-js decodes one (only a CA that sent no rotation at all). */
const emptyRootStatus: CaV1.RootStatus__Output = {
  trustDomain: '',
  bundleSequence: 0,
  phase: '',
  reissueSpreadSeconds: 0,
  authorities: [],
  intermediateRotateAt: 0,
  agents: null,
  pendingRecords: 0,
};

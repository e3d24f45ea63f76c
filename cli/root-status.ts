import { intermediateRotationDue, loadCa, readAgentReports, retiringAuthorities, type AgentReport, type CaDirectory } from '../ca/index.js';

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
  /** When the active intermediate is rotated automatically (at the CA's configured fraction). */
  intermediateRotationDue: string;
  agents: {
    known: boolean;
    why?: string;
    live: number;
    current: number;
    /** Live agents that do not serve the current bundle sequence. */
    lagging: AgentReport[];
    replicas: { replica: string; writtenAt: string }[];
  };
  pendingRecords: number;
}

/**
 * The rotation state of a CA directory and what its running replicas report about their agents.
 *
 * @example const s = await rootStatus('/ca', new Date(), { rotateAt: 0.5 });
 */
export async function rootStatus(dir: string, now: Date, o: { rotateAt: number; livenessMs?: number }): Promise<RootStatus> {
  const ca = await loadCa(dir);
  const view = await readAgentReports(dir, now, o.livenessMs !== undefined ? { livenessMs: o.livenessMs } : {});
  const lagging = view.live.filter((a) => a.sequence < ca.bundleSequence);
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
    intermediateRotationDue: intermediateRotationDue(ca, o.rotateAt).toISOString(),
    agents: {
      known: view.known,
      ...(view.why ? { why: view.why } : {}),
      live: view.live.length,
      current: view.live.length - lagging.length,
      lagging,
      replicas: view.replicas,
    },
    pendingRecords: ca.pendingRecords.length,
  };
}

function phaseOf(ca: CaDirectory): RootStatus['phase'] {
  if (ca.prepared) return 'prepared';
  return retiringAuthorities(ca).length > 0 ? 'activated' : 'idle';
}

/** The status for people: slots, then the bundle and agents, then what to do next. */
export function formatRootStatus(s: RootStatus): string {
  const lines: string[] = [];
  lines.push(`trust domain ${s.trustDomain}; bundle sequence ${s.bundleSequence}; phase ${s.phase}`);
  lines.push('');
  lines.push('SLOT  STATE     BUNDLE  ROOT (key id, expires)                         INTERMEDIATE (key id, expires)');
  for (const a of s.authorities) {
    lines.push(
      `${String(a.id).padEnd(5)} ${a.state.padEnd(9)} ${(a.inBundle ? 'yes' : 'no').padEnd(7)} ` +
        `${a.root.keyId.slice(0, 16)}… ${a.root.notAfter.slice(0, 10)}            ${a.issuer.keyId.slice(0, 16)}… ${a.issuer.notAfter.slice(0, 10)}${a.crossSigned ? ' (+cross-signed)' : ''}`,
    );
  }
  lines.push('');
  lines.push(`active intermediate rotates automatically at ${s.intermediateRotationDue}`);
  if (!s.agents.known) lines.push(`agents: unknown: ${s.agents.why ?? ''}`);
  else lines.push(`agents: ${s.agents.live} live, ${s.agents.current} serve bundle ${s.bundleSequence}, ${s.agents.lagging.length} lag`);
  for (const a of s.agents.lagging.slice(0, 20)) lines.push(`  lagging: ${a.agentId}${a.identity ? ` [${a.identity}]` : ''} serves ${a.sequence}, last seen ${a.lastSeen}`);
  if (s.agents.lagging.length > 20) lines.push(`  … and ${s.agents.lagging.length - 20} more (--output json lists all)`);
  if (s.pendingRecords > 0) lines.push(`${s.pendingRecords} lifecycle record(s) wait for the ledger (the CA or the next root command writes them)`);
  lines.push('');
  lines.push(`next: ${nextStep(s)}`);
  return lines.join('\n') + '\n';
}

function nextStep(s: RootStatus): string {
  switch (s.phase) {
    case 'prepared':
      return s.agents.known && s.agents.lagging.length === 0
        ? "every live agent trusts the new root: 'castellan root activate'"
        : "wait until every live agent serves the new bundle, then 'castellan root activate'";
    case 'activated':
      return "agents re-issue under the new root; once the old root's leaves have expired: 'castellan root retire'";
    default:
      return "nothing to do; to rotate the root: 'castellan root prepare'";
  }
}

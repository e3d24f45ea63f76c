import type { RootStatus } from '../ca/index.js';

/**
 * What expired of the active authority at `now`, with the command that fixes it, or undefined: the
 * root (rotate the root, forced: no agent can verify anything under it) or the intermediate (a new one
 * under the same root).
 */
export function expiredAuthority(s: RootStatus, now: Date): string | undefined {
  const active = s.authorities.find((a) => a.state === 'active');
  if (!active) return undefined;
  const t = now.getTime();
  if (Date.parse(active.root.notAfter) <= t) {
    return `the active root (slot ${active.id}) expired at ${active.root.notAfter}: nothing issued under it verifies; run 'castellan root prepare', then 'castellan root activate --force'`;
  }
  if (Date.parse(active.issuer.notAfter) <= t) {
    return `the active intermediate (slot ${active.id}) expired at ${active.issuer.notAfter}: the CA cannot issue; run 'castellan root rotate-intermediate'`;
  }
  return undefined;
}

/** The status for people: slots, then the bundle and agents, then what to do next. */
export function formatRootStatus(s: RootStatus, now: Date): string {
  const lines: string[] = [];
  lines.push(`trust domain ${s.trustDomain}; bundle sequence ${s.bundleSequence}; phase ${s.phase}`);
  lines.push('');
  lines.push('SLOT  STATE     BUNDLE  ROOT (key id, expires)                         INTERMEDIATE (key id, expires)');
  for (const a of s.authorities) {
    lines.push(
      `${String(a.id).padEnd(5)} ${a.state.padEnd(9)} ${(a.inBundle ? 'yes' : 'no').padEnd(7)} ` +
        `${a.root.keyId.slice(0, 16)}… ${a.root.notAfter.slice(0, 10)}${expiredMark(a.root.notAfter, now)} ${a.issuer.keyId.slice(0, 16)}… ${a.issuer.notAfter.slice(0, 10)}${expiredMark(a.issuer.notAfter, now).trimEnd()}${a.crossSigned ? ' (+cross-signed)' : ''}`,
    );
  }
  lines.push('');
  lines.push(
    s.intermediateRotationDue
      ? `active intermediate rotates automatically at ${s.intermediateRotationDue} (${s.intermediateRotateAt} of its life)`
      : 'automatic intermediate rotation is off',
  );
  if (!s.agents.known) lines.push(`agents: unknown: ${s.agents.why ?? ''}`);
  else lines.push(`agents: ${s.agents.live} live, ${s.agents.current} serve bundle ${s.bundleSequence}, ${s.agents.lagging.length} lag`);
  for (const a of s.agents.lagging.slice(0, 20)) lines.push(`  lagging: ${a.agentId}${a.identity ? ` [${a.identity}]` : ''} serves ${a.sequence}, last seen ${a.lastSeen}`);
  if (s.agents.lagging.length > 20) lines.push(`  … and ${s.agents.lagging.length - 20} more (--output json lists all)`);
  if (s.pendingRecords > 0) lines.push(`${s.pendingRecords} lifecycle record(s) wait for the ledger (the CA or the next root command writes them)`);
  lines.push('');
  lines.push(`next: ${expiredAuthority(s, now) ?? nextStep(s)}`);
  return `${lines.join('\n')}\n`;
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

/** ` EXPIRED` beside a date in the past, padded so the columns stay aligned. */
function expiredMark(iso: string, now: Date): string {
  return (Date.parse(iso) <= now.getTime() ? ' EXPIRED' : '').padEnd(12);
}

import { formatDuration, type CaHealth, type LedgerHealth, type RootStatus } from '../ca/index.js';
import { parseHostPort } from '../workload-identity/index.js';

/** One thing `castellan check` found, with what to do about it. */
export interface Finding {
  level: 'fail' | 'warn';
  what: string;
  todo: string;
}

/** One certificate's expiry, as `check` lists them. */
export interface Expiry {
  /** `root 1`, `intermediate 2`, `serving certificate`. */
  readonly what: string;
  /** The authority slot and its state; absent for the serving certificate. */
  readonly slot?: number;
  readonly state?: string;
  readonly notAfter: string;
  /** Seconds from now (negative: expired). */
  readonly inSeconds: number;
}

/** Whether the CA answers, as far as `check` could tell. */
export interface CaReachability {
  /** Where it was asked: the gRPC address (--server) or the HTTP address (/readyz). */
  readonly address: string;
  readonly state: 'ready' | 'not-ready' | 'down';
  /** Why not ready, or why it could not be reached. */
  readonly detail?: string;
  /** With --server: the CA's build and replica. */
  readonly server?: CaHealth['server'];
}

/** The ledger as `check` saw it; `checked: false` when it could not tell where it is. */
export type LedgerView =
  | (LedgerHealth & { readonly checked: true; readonly enabled?: boolean; readonly writer?: Omit<CaHealth['ledger'], 'anchors'> })
  | { readonly checked: false; readonly why: string };

/** Every authority's root and intermediate, and the serving certificate when known, with time left. */
export function expiriesOf(s: RootStatus, now: Date, servingNotAfter?: string): Expiry[] {
  const at = (iso: string) => Math.floor((Date.parse(iso) - now.getTime()) / 1000);
  const out: Expiry[] = [];
  for (const a of s.authorities) {
    out.push({ what: `root ${a.id}`, slot: a.id, state: a.state, notAfter: a.root.notAfter, inSeconds: at(a.root.notAfter) });
    out.push({ what: `intermediate ${a.id}`, slot: a.id, state: a.state, notAfter: a.issuer.notAfter, inSeconds: at(a.issuer.notAfter) });
  }
  if (servingNotAfter !== undefined) out.push({ what: 'serving certificate', notAfter: servingNotAfter, inSeconds: at(servingNotAfter) });
  return out;
}

/** The serving certificate lives 24 h and is renewed at half of it: less than this left means renewal failed. */
const SERVING_RENEWAL_OVERDUE_S = 6 * 3600;

/** Findings about the CA process: reachable and ready, its notes, its serving certificate. */
export function judgeCa(ca: CaReachability | undefined, o: { required: boolean; notes?: readonly string[]; servingNotAfter?: string; now: Date }): Finding[] {
  const out: Finding[] = [];
  if (ca?.state === 'down') {
    out.push(
      o.required
        ? { level: 'fail', what: `the CA does not answer at ${ca.address}: ${ca.detail ?? 'down'}`, todo: 'start it (castellan ca serve) or check the address' }
        : {
            level: 'warn',
            what: `the CA does not answer at ${ca.address} (its configured http address) from here: ${ca.detail ?? 'down'}`,
            todo: 'if it runs elsewhere, give --http HOST:PORT or use --server',
          },
    );
  } else if (ca?.state === 'not-ready') {
    out.push({
      level: 'fail',
      what: `the CA at ${ca.address} is not ready: ${ca.detail ?? 'unknown reason'}`,
      todo: 'read its log (and /readyz); it refuses requests until ready',
    });
  }
  for (const n of o.notes ?? []) out.push({ level: 'warn', what: `the CA reports: ${n}`, todo: 'read its log' });
  if (o.servingNotAfter !== undefined) {
    const left = Date.parse(o.servingNotAfter) - o.now.getTime();
    if (left <= 0)
      out.push({
        level: 'fail',
        what: `the CA's serving certificate expired at ${o.servingNotAfter}: no client can connect`,
        todo: 'read the CA log ("serving certificate"); restart the CA',
      });
    else if (left < SERVING_RENEWAL_OVERDUE_S * 1000) {
      out.push({
        level: 'warn',
        what: `the CA's serving certificate expires at ${o.servingNotAfter} (in ${formatDuration(Math.floor(left / 1000) * 1000)}) and was not renewed`,
        todo: 'read the CA log ("serving certificate")',
      });
    }
  }
  return out;
}

/** Findings about the ledger: broken or unreadable stops issuance (the CA records before it answers). */
export function judgeLedger(l: LedgerView): Finding[] {
  if (!l.checked) return [];
  const out: Finding[] = [];
  if (l.enabled === false) {
    out.push({ level: 'warn', what: 'the ledger is disabled (ledger.enabled: false): issuances are not recorded', todo: 'enable it (benchmarks only)' });
    return out;
  }
  if (l.state === 'broken' || l.writer?.broken) {
    out.push({
      level: 'fail',
      what: `the ledger is BROKEN${l.location ? ` (${l.location})` : ''}: ${l.problem ?? 'records the CA committed are gone or changed'}; the CA records and issues nothing`,
      todo: 'castellan audit verify; then SECURITY.md, ledger recovery',
    });
  } else if (l.state === 'unavailable') {
    out.push({
      level: 'fail',
      what: `the ledger cannot be read${l.location ? ` (${l.location})` : ''}: ${l.problem ?? 'unavailable'}; the CA cannot issue (it records before it answers)`,
      todo: "check the database or file and the CA's ledger settings",
    });
  }
  if ((l.writer?.checkpointsSkipped ?? 0) > 0) {
    out.push({
      level: 'warn',
      what: `${l.writer!.checkpointsSkipped} ledger checkpoint(s) were not signed (the signing intermediate was outside its validity)`,
      todo: 'castellan root rotate-intermediate if it expired; records stay unprotected until the next checkpoint',
    });
  }
  return out;
}

/** The report for people: the summary line, the CA, the ledger, every expiry, then the findings. */
export function formatCheck(r: { status: string; rotation: RootStatus; ca?: CaReachability; ledger: LedgerView; expiry: readonly Expiry[]; findings: readonly Finding[] }): string {
  const s = r.rotation;
  const lines = [
    `${r.status.toUpperCase()}: trust domain ${s.trustDomain}, bundle ${s.bundleSequence}, phase ${s.phase}, agents ${s.agents.known ? `${s.agents.current}/${s.agents.live} current` : 'unknown'}`,
  ];
  if (r.ca) {
    const who = r.ca.server ? ` (replica ${r.ca.server.replica}${r.ca.server.leader ? ', leader' : ''}; version ${r.ca.server.version}, commit ${r.ca.server.commit})` : '';
    lines.push(`  CA       ${r.ca.state === 'ready' ? 'ready' : r.ca.state === 'down' ? 'DOWN' : 'NOT READY'} at ${r.ca.address}${who}`);
  }
  const l = r.ledger;
  if (!l.checked) lines.push(`  ledger   not checked: ${l.why}`);
  else if (l.enabled === false) lines.push('  ledger   disabled');
  else {
    const where = l.location ? `${l.location}, ` : '';
    const extent = l.lastSeq !== undefined ? `last record ${l.lastSeq}${l.headSeq !== undefined ? `, head witness at checkpoint ${l.headSeq}` : ''}` : 'no record yet';
    lines.push(`  ledger   ${l.state === 'ok' || l.state === 'empty' ? (l.writer?.broken ? 'BROKEN' : 'ok') : l.state.toUpperCase()}: ${where}${extent}`);
  }
  const width = Math.max(...r.expiry.map((e) => e.what.length));
  r.expiry.forEach((e, i) => {
    const left = e.inSeconds <= 0 ? 'EXPIRED' : `in ${formatDuration(e.inSeconds * 1000)}`;
    lines.push(`  ${i === 0 ? 'expiry ' : '       '}  ${e.what.padEnd(width)}  ${e.notAfter}  ${left}${e.state ? ` (${e.state})` : ''}`);
  });
  for (const x of r.findings) lines.push(`  ${x.level === 'fail' ? 'FAIL' : 'WARN'} ${x.what}`, `       do: ${x.todo}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Asks a CA's `/readyz` (its HTTP port) whether it is up and ready. `address` is the CA's `http`
 * setting: a wildcard host (0.0.0.0, ::) is asked on loopback. Never throws.
 *
 * @example const r = await probeReadyz('127.0.0.1:15014', 3000);
 */
export async function probeReadyz(address: string, timeoutMs: number): Promise<CaReachability> {
  const at = parseHostPort(address);
  let host = at.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${at.port}/readyz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim();
    if (res.status === 200) return { address, state: 'ready' };
    return { address, state: 'not-ready', detail: body.replace(/^not ready: /, '').split('\n')[0] || `HTTP ${res.status}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { address, state: 'down', detail: cause?.code ?? ((err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message) };
  }
}

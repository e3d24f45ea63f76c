import type { Command } from 'commander';
import { DEFAULT_INTERMEDIATE_ROTATE_AT, formatDuration, ledgerHealth, openLedgerStore } from '../ca/index.js';
import { isCastellanError } from '../workload-identity/index.js';
import { adminClient, healthOf, withAdminFlags, type AdminFlags } from './admin-client.js';
import { federationRows } from './bundle.js';
import { federationFindings } from './federation-check.js';
import { expiriesOf, formatCheck, judgeCa, judgeLedger, probeReadyz, type CaReachability, type Expiry, type Finding, type LedgerView } from './check-report.js';

export type { Finding } from './check-report.js';
import { EXIT, ReportedResult } from './exit-codes.js';
import { choiceFlag, durationFlag, fractionFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { caTarget } from './ca-target.js';
import { rootStatus, type RootStatus } from '../ca/index.js';

const DAY = 86_400_000;

export interface CheckThresholds {
  /** Warn when a root or the active intermediate expires within this. */
  warnWithinMs: number;
  /** Fail when it expires within this. */
  failWithinMs: number;
  /** Warn when a rotation step has waited this long. */
  stuckAfterMs: number;
  /** The CA's rotation.intermediateRotateAt; absent: what the running CA published (else 0.5). */
  rotateAt?: number;
}

/**
 * Judges a CA directory's rotation state (docs/architecture.md §6): expired or expiring roots and intermediates,
 * agents lagging the trust bundle, a rotation that is stuck, an automatic rotation that did not happen.
 *
 * @example const findings = judge(await rootStatus(dir, now, { rotateAt: 0.5 }), now, thresholds);
 */
export function judge(s: RootStatus, now: Date, t: CheckThresholds): Finding[] {
  const out: Finding[] = [];
  const left = (iso: string) => Date.parse(iso) - now.getTime();
  const when = (iso: string) => (left(iso) <= 0 ? `expired at ${iso}` : `expires at ${iso} (in ${formatDuration(Math.floor(left(iso) / 1000) * 1000)})`);
  const active = s.authorities.find((a) => a.state === 'active')!;
  for (const a of s.authorities.filter((x) => x.inBundle)) {
    const ms = left(a.root.notAfter);
    const isActive = a.id === active.id || a.root.keyId === active.root.keyId;
    if (ms <= 0) {
      out.push(
        isActive
          ? {
              level: 'fail',
              what: `the active root (slot ${a.id}) ${when(a.root.notAfter)}: no chain to it verifies`,
              todo: 'castellan root prepare, then castellan root activate --force',
            }
          : { level: 'warn', what: `root of slot ${a.id} in the trust bundle ${when(a.root.notAfter)}`, todo: 'castellan root retire' },
      );
    } else if (isActive && ms <= t.failWithinMs) {
      out.push({ level: 'fail', what: `the active root ${when(a.root.notAfter)}`, todo: 'castellan root prepare now, then activate and retire' });
    } else if (isActive && ms <= t.warnWithinMs && s.phase === 'idle') {
      out.push({ level: 'warn', what: `the active root ${when(a.root.notAfter)}`, todo: 'castellan root prepare' });
    }
  }
  if (left(active.issuer.notAfter) <= 0) {
    // An expired root is reported above with its own remedy; a new intermediate under it cannot help.
    const rootExpired = left(active.root.notAfter) <= 0;
    out.push({
      level: 'fail',
      what: `the active intermediate ${when(active.issuer.notAfter)}: the CA cannot issue`,
      todo: rootExpired
        ? 'castellan root prepare, then castellan root activate --force'
        : 'castellan root rotate-intermediate (then find out why the CA did not rotate it: its log, "intermediate rotation failed")',
    });
  } else if (left(active.issuer.notAfter) <= t.failWithinMs) {
    out.push({
      level: 'fail',
      what: `the active intermediate ${when(active.issuer.notAfter)}`,
      todo: 'check that the CA is running and its log (intermediate rotation); or castellan root rotate-intermediate',
    });
  } else if (left(active.issuer.notAfter) <= t.warnWithinMs) {
    out.push({
      level: 'warn',
      what: `the active intermediate ${when(active.issuer.notAfter)}`,
      todo: 'check that the CA is running and its log (intermediate rotation); or castellan root rotate-intermediate',
    });
  }
  // The CA checks every reload interval; ten minutes late means it is not running or cannot rotate.
  if (s.intermediateRotationDue !== undefined && now.getTime() - Date.parse(s.intermediateRotationDue) > 10 * 60_000) {
    out.push({
      level: 'warn',
      what: `the automatic intermediate rotation was due at ${s.intermediateRotationDue} and has not happened`,
      todo: 'check that the CA is running and its log ("intermediate rotation failed")',
    });
  }
  if (!s.agents.known) {
    out.push({ level: 'warn', what: `agents unknown: ${s.agents.why ?? 'no report'}`, todo: 'retry in a minute; if it lasts, start the CA (castellan ca serve) with this store' });
  } else if (s.agents.withoutActiveRoot.length > 0) {
    const names = s.agents.withoutActiveRoot
      .slice(0, 5)
      .map((a) => `${a.agentId} (serves ${a.sequence})`)
      .join(', ');
    out.push({
      level: 'fail',
      what: `${s.agents.withoutActiveRoot.length} of ${s.agents.live} live agents serve a bundle without the active root (their workloads reject new leaves): ${names}${s.agents.withoutActiveRoot.length > 5 ? ', …' : ''}`,
      todo: 'check those agents\' connection to the CA (their logs: "trust-bundle stream closed")',
    });
  } else if (s.agents.lagging.length > 0) {
    const names = s.agents.lagging
      .slice(0, 5)
      .map((a) => `${a.agentId} (serves ${a.sequence})`)
      .join(', ');
    out.push({
      level: 'warn',
      what: `${s.agents.lagging.length} of ${s.agents.live} live agents lag bundle ${s.bundleSequence}: ${names}${s.agents.lagging.length > 5 ? ', …' : ''} (normal for a few seconds after a change)`,
      todo: 'if it lasts, check those agents\' connection to the CA (their logs: "trust-bundle stream closed")',
    });
  }
  const prepared = s.authorities.find((a) => a.state === 'prepared');
  if (prepared && now.getTime() - Date.parse(prepared.createdAt) > t.stuckAfterMs) {
    out.push({
      level: 'warn',
      what: `root rotation stuck: slot ${prepared.id} prepared and not activated for over ${formatDuration(t.stuckAfterMs)}`,
      todo: 'castellan root status; then castellan root activate',
    });
  }
  if (s.phase === 'activated' && active.activatedAt && now.getTime() - Date.parse(active.activatedAt) > t.stuckAfterMs) {
    out.push({
      level: 'warn',
      what: `root rotation stuck: the old root is still in the bundle ${formatDuration(t.stuckAfterMs)} after activation`,
      todo: 'castellan root retire (it says which leaves still depend on the old root)',
    });
  }
  if (s.pendingRecords > 0) {
    out.push({
      level: 'warn',
      what: `${s.pendingRecords} lifecycle record(s) are not in the ledger yet`,
      todo: 'start the CA or run a castellan root command with the ledger reachable',
    });
  }
  return out;
}

interface CheckFlags extends AdminFlags {
  dir?: string;
  config?: string;
  databaseUrl?: string;
  http?: string;
  wait?: number;
  warnWithin?: number;
  failWithin?: number;
  stuckAfter?: number;
  rotateAt?: number;
  output: 'table' | 'json';
}

/** What one look at the CA found: `--output json` prints it as it is. */
interface CheckReport {
  status: 'healthy' | 'warning' | 'failing';
  findings: Finding[];
  rotation: RootStatus;
  expiry: Expiry[];
  ledger: LedgerView;
  ca?: CaReachability;
}

export function registerCheck(program: Command, io: CliIo): void {
  withAdminFlags(
    program
      .command('check')
      .description("health of the CA: readiness, ledger, every root's, intermediate's and the serving certificate's expiry, rotation and agents; for people, cron and alerting")
      .option('--dir <dir>', 'the CA directory')
      .option('--config <file>', "the CA's configuration file: check the store and ledger it names (a directory, or Kubernetes) and its http address")
      .option('--database-url <url>', 'with --dir/--config: the PostgreSQL ledger (env CASTELLAN_DATABASE_URL)'),
    'check this running CA through its API instead',
  )
    .option('--http <host:port>', "with --dir/--config: the CA's health address; check that it is up and ready (default: http in --config)")
    .option('--wait <duration>', 'check again every 2 s until healthy, at most this long (e.g. after an install: --wait 2m)', durationFlag)
    .option('--warn-within <duration>', 'warn when a root or the active intermediate expires within this', durationFlag)
    .option('--fail-within <duration>', 'fail when it expires within this', durationFlag)
    .option('--stuck-after <duration>', 'warn when a rotation step has waited this long', durationFlag)
    .option(
      '--rotate-at <fraction>',
      `with --dir/--config: the CA's rotation.intermediateRotateAt (default: what the running CA published, else ${DEFAULT_INTERMEDIATE_ROTATE_AT})`,
      fractionFlag,
    )
    .option('--output <format>', 'table or json', choiceFlag(['table', 'json'] as const), 'table')
    .addHelpText(
      'after',
      '\nDefaults: --warn-within 30d, --fail-within 7d, --stuck-after 48h.\n' +
        'Where: --dir DIR or --config FILE (reads the store and the ledger, not a full verify; with --http or the\n' +
        "config's http, also asks the CA's /readyz), or --server HOST:PORT with an admin credential (asks the running CA:\n" +
        'readiness, ledger, serving certificate, agents; the credential flags are listed above).\n' +
        'Exit codes: 0 healthy, 4 warning (act soon), 5 failing (act now), 1 the check itself failed (e.g. the CA\n' +
        'cannot be reached with --server), 2 wrong usage. With --wait: the exit code of the last check.',
    )
    .action(async (f: CheckFlags) => {
      const remote = f.server !== undefined;
      if (remote && (f.dir !== undefined || f.config !== undefined))
        throw new UsageError("--server asks a running CA; --dir and --config read the CA's store: give one of them, not both");
      if (!remote && f.dir === undefined && f.config === undefined)
        throw new UsageError("say where: --dir DIR or --config FILE (the CA's store), or --server HOST:PORT (a running CA)");
      if (remote && f.http !== undefined) throw new UsageError('--http is for --dir/--config; with --server the CA reports its readiness itself');
      const t: CheckThresholds = {
        warnWithinMs: f.warnWithin ?? 30 * DAY,
        failWithinMs: f.failWithin ?? 7 * DAY,
        stuckAfterMs: f.stuckAfter ?? 2 * DAY,
        ...(f.rotateAt !== undefined ? { rotateAt: f.rotateAt } : {}),
      };
      const once = remote ? await remoteCheck(f, io, t) : () => localCheck(f, io, t);
      const deadline = Date.now() + (f.wait ?? 0);
      let report: CheckReport;
      for (let said = ''; ; ) {
        try {
          report = await once();
        } catch (err) {
          // --wait: a CA that cannot be reached yet is what one waits for.
          if (Date.now() >= deadline || !isCastellanError(err)) throw err;
          report = undefined as unknown as CheckReport;
          said = waiting(`${(err as Error).message}`, said, f, io, deadline);
          await sleep(Math.min(2000, deadline - Date.now()));
          continue;
        }
        if (report.status === 'healthy' || Date.now() >= deadline) break;
        said = waiting(`${report.status}: ${report.findings[0]?.what ?? ''}`, said, f, io, deadline);
        await sleep(Math.min(2000, deadline - Date.now()));
      }
      io.out(f.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatCheck(report));
      if (report.status === 'failing') throw new ReportedResult(EXIT.FAILING);
      if (report.status === 'warning') throw new ReportedResult(EXIT.WARNING);
    });
}

/** With --wait and a table: one stderr line whenever what the CA is waited for changes. */
function waiting(state: string, said: string, f: CheckFlags, io: CliIo, deadline: number): string {
  if (f.output !== 'json' && state !== said) io.err(`castellan: waiting (${formatDuration(Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) * 1000)} left): ${state}\n`);
  return state;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function conclude(findings: Finding[], rest: Omit<CheckReport, 'status' | 'findings'>): CheckReport {
  const status = findings.some((x) => x.level === 'fail') ? 'failing' : findings.length > 0 ? 'warning' : 'healthy';
  return { status, findings, ...rest };
}

/** --dir / --config: the store, the ledger's anchors, and /readyz when the CA's http address is known. */
async function localCheck(f: CheckFlags, io: CliIo, t: CheckThresholds): Promise<CheckReport> {
  const now = io.now();
  const target = await caTarget(
    {
      ...(f.dir !== undefined ? { dir: f.dir } : {}),
      ...(f.config !== undefined ? { config: f.config } : {}),
      ...(f.databaseUrl !== undefined ? { databaseUrl: f.databaseUrl } : {}),
    },
    io,
    { ledger: false },
  );
  const store = target.store;
  const rotateAt = t.rotateAt ?? target.config?.rotation?.intermediateRotateAt;
  let s: RootStatus;
  let ledger: LedgerView;
  let hasJwtKey: boolean;
  try {
    s = await rootStatus(store, now, rotateAt !== undefined ? { rotateAt } : {});
    // Read from the stored material, no key opened (no PIN needed).
    const snap = await store.read();
    const slots = snap ? await Promise.all(snap.state.authorities.filter((a) => a.state !== 'prepared').map((a) => snap.authority(a.id))) : [];
    hasJwtKey = slots.some((a) => a.jwtKey !== undefined);
    if (target.config?.ledger?.enabled === false) ledger = { checked: true, state: 'ok', enabled: false };
    else if (!target.ledger) ledger = { checked: false, why: `${store.location} keeps no ledger itself: give --database-url, or ledger.url / ledger.path in --config` };
    else {
      const genesis = (await store.read())?.state.ledger?.genesis;
      const where = target.ledger;
      ledger = {
        checked: true,
        ...(await ledgerHealth(() => openLedgerStore({ ...where, readOnly: true }), { ...(genesis !== undefined ? { genesis } : {}), witness: store.witness })),
      };
    }
  } finally {
    await store.close();
  }
  const http = f.http ?? target.config?.http;
  const ca = http !== undefined ? await probeReadyz(http, 3000) : undefined;
  const findings = [...judgeCa(ca, { required: f.http !== undefined, now }), ...judgeLedger(ledger), ...judge(s, now, t)];
  if (!hasJwtKey) {
    findings.push({
      level: 'warn',
      what: 'no authority has a JWT-SVID signing key (created before JWT-SVID support): SignJwtSvid and FetchJWTSVID are refused',
      todo: 'castellan root prepare + activate, or wait for the next intermediate rotation (docs/jwt-svid.md)',
    });
  }
  const fed = await federationRows({ ...(f.dir !== undefined ? { dir: f.dir } : {}), ...(f.config !== undefined ? { config: f.config } : {}) }, io);
  findings.push(...federationFindings(fed.rows, fed.problems, now));
  return conclude(findings, { rotation: s, expiry: expiriesOf(s, now), ledger, ...(ca ? { ca } : {}) });
}

/** --server: the running CA's own report (RootAdmin GetHealth), judged here. */
async function remoteCheck(f: CheckFlags, io: CliIo, t: CheckThresholds): Promise<() => Promise<CheckReport>> {
  const call = await adminClient(f, io, { timeoutMs: 15_000 });
  return async () => {
    const h = healthOf(await call('GetHealth', {}));
    const now = io.now();
    const ca: CaReachability = { address: f.server!, state: h.ready ? 'ready' : 'not-ready', ...(h.notReady ? { detail: h.notReady } : {}), server: h.server };
    const { anchors, ...writer } = h.ledger;
    const ledger: LedgerView = !h.ledger.enabled ? { checked: true, state: 'ok', enabled: false } : { checked: true, ...(anchors ?? { state: 'ok' }), enabled: true, writer };
    const findings = [...judgeCa(ca, { required: true, notes: h.notes, servingNotAfter: h.serving.notAfter, now }), ...judgeLedger(ledger), ...judge(h.rotation, now, t)];
    return conclude(findings, { rotation: h.rotation, expiry: expiriesOf(h.rotation, now, h.serving.notAfter), ledger, ca });
  };
}

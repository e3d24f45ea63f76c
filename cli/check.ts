import type { Command } from 'commander';
import { DEFAULT_INTERMEDIATE_ROTATE_AT, formatDuration } from '../ca/index.js';
import { EXIT } from './exit-codes.js';
import { choiceFlag, durationFlag, fractionFlag } from './flags.js';
import type { CliIo } from './io.js';
import { caTarget } from './ca-target.js';
import { loadCa, rootStatus, type RootStatus } from '../ca/index.js';
import { federationRows } from './bundle.js';
import { federationFindings } from './federation-check.js';

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

export interface Finding {
  level: 'fail' | 'warn';
  what: string;
  todo: string;
}

/**
 * Judges a CA directory's rotation state (DESIGN §6): expired or expiring roots and intermediates,
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
          ? { level: 'fail', what: `the active root (slot ${a.id}) ${when(a.root.notAfter)}: no chain to it verifies`, todo: "castellan root prepare, then castellan root activate --force" }
          : { level: 'warn', what: `root of slot ${a.id} in the trust bundle ${when(a.root.notAfter)}`, todo: 'castellan root retire' },
      );
    } else if (isActive && ms <= t.failWithinMs) {
      out.push({ level: 'fail', what: `the active root ${when(a.root.notAfter)}`, todo: 'castellan root prepare now, then activate and retire' });
    } else if (isActive && ms <= t.warnWithinMs && s.phase === 'idle') {
      out.push({ level: 'warn', what: `the active root ${when(a.root.notAfter)}`, todo: 'castellan root prepare' });
    }
  }
  if (left(active.issuer.notAfter) <= 0) {
    out.push({ level: 'fail', what: `the active intermediate ${when(active.issuer.notAfter)}: the CA cannot issue`, todo: 'check the CA log for the failed automatic rotation; castellan root prepare + activate --force' });
  } else if (left(active.issuer.notAfter) <= t.failWithinMs) {
    out.push({ level: 'fail', what: `the active intermediate ${when(active.issuer.notAfter)}`, todo: 'check that the CA is running and its log (intermediate rotation)' });
  } else if (left(active.issuer.notAfter) <= t.warnWithinMs) {
    out.push({ level: 'warn', what: `the active intermediate ${when(active.issuer.notAfter)}`, todo: 'check that the CA is running and its log (intermediate rotation)' });
  }
  // The CA checks every reload interval; ten minutes late means it is not running or cannot rotate.
  if (s.intermediateRotationDue !== undefined && now.getTime() - Date.parse(s.intermediateRotationDue) > 10 * 60_000) {
    out.push({ level: 'warn', what: `the automatic intermediate rotation was due at ${s.intermediateRotationDue} and has not happened`, todo: 'check that the CA is running and its log ("intermediate rotation failed")' });
  }
  if (!s.agents.known) {
    out.push({ level: 'warn', what: `agents unknown: ${s.agents.why ?? 'no report'}`, todo: 'start the CA (castellan ca serve) with this directory' });
  } else if (s.agents.withoutActiveRoot.length > 0) {
    const names = s.agents.withoutActiveRoot.slice(0, 5).map((a) => `${a.agentId} (serves ${a.sequence})`).join(', ');
    out.push({
      level: 'fail',
      what: `${s.agents.withoutActiveRoot.length} of ${s.agents.live} live agents serve a bundle without the active root (their workloads reject new leaves): ${names}${s.agents.withoutActiveRoot.length > 5 ? ', …' : ''}`,
      todo: 'check those agents\' connection to the CA (their logs: "trust-bundle stream closed")',
    });
  } else if (s.agents.lagging.length > 0) {
    const names = s.agents.lagging.slice(0, 5).map((a) => `${a.agentId} (serves ${a.sequence})`).join(', ');
    out.push({
      level: 'warn',
      what: `${s.agents.lagging.length} of ${s.agents.live} live agents lag bundle ${s.bundleSequence}: ${names}${s.agents.lagging.length > 5 ? ', …' : ''} (normal for a few seconds after a change)`,
      todo: 'if it lasts, check those agents\' connection to the CA (their logs: "trust-bundle stream closed")',
    });
  }
  const prepared = s.authorities.find((a) => a.state === 'prepared');
  if (prepared && now.getTime() - Date.parse(prepared.createdAt) > t.stuckAfterMs) {
    out.push({ level: 'warn', what: `root rotation stuck: slot ${prepared.id} prepared and not activated for over ${formatDuration(t.stuckAfterMs)}`, todo: 'castellan root status; then castellan root activate' });
  }
  if (s.phase === 'activated' && active.activatedAt && now.getTime() - Date.parse(active.activatedAt) > t.stuckAfterMs) {
    out.push({ level: 'warn', what: `root rotation stuck: the old root is still in the bundle ${formatDuration(t.stuckAfterMs)} after activation`, todo: 'castellan root retire (it says which leaves still depend on the old root)' });
  }
  if (s.pendingRecords > 0) {
    out.push({ level: 'warn', what: `${s.pendingRecords} lifecycle record(s) are not in the ledger yet`, todo: 'start the CA or run a castellan root command with the ledger reachable' });
  }
  return out;
}

export function registerCheck(program: Command, io: CliIo): void {
  program
    .command('check')
    .description('health of the CA\'s roots, intermediates, rotation and agents, for people and for cron/alerting')
    .option('--dir <dir>', 'the CA directory')
    .option('--config <file>', "the CA's configuration file: check the store it names (a directory, or Kubernetes)")
    .option('--warn-within <duration>', 'warn when a root or the active intermediate expires within this', durationFlag)
    .option('--fail-within <duration>', 'fail when it expires within this', durationFlag)
    .option('--stuck-after <duration>', 'warn when a rotation step has waited this long', durationFlag)
    .option('--rotate-at <fraction>', `the CA's rotation.intermediateRotateAt (default: what the running CA published, else ${DEFAULT_INTERMEDIATE_ROTATE_AT})`, fractionFlag)
    .option('--output <format>', 'table or json', choiceFlag(['table', 'json'] as const), 'table')
    .addHelpText(
      'after',
      '\nDefaults: --warn-within 30d, --fail-within 7d, --stuck-after 48h.\n' +
        'Exit codes: 0 healthy, 4 warning (act soon), 5 failing (act now), 1 the check itself failed, 2 wrong usage.',
    )
    .action(async (f: { dir?: string; config?: string; warnWithin?: number; failWithin?: number; stuckAfter?: number; rotateAt?: number; output: 'table' | 'json' }) => {
      const now = io.now();
      const t: CheckThresholds = {
        warnWithinMs: f.warnWithin ?? 30 * DAY,
        failWithinMs: f.failWithin ?? 7 * DAY,
        stuckAfterMs: f.stuckAfter ?? 2 * DAY,
        ...(f.rotateAt !== undefined ? { rotateAt: f.rotateAt } : {}),
      };
      const target = await caTarget({ ...(f.dir !== undefined ? { dir: f.dir } : {}), ...(f.config !== undefined ? { config: f.config } : {}) }, io, { ledger: false });
      const store = target.store;
      const rotateAt = t.rotateAt ?? target.config?.rotation?.intermediateRotateAt;
      let s: RootStatus;
      let jwtKey: boolean;
      try {
        s = await rootStatus(store, now, rotateAt !== undefined ? { rotateAt } : {});
        jwtKey = (await loadCa(store)).authorities.some((a) => a.jwtKey !== undefined && a.state !== 'prepared');
      } finally {
        await store.close();
      }
      const findings = judge(s, now, t);
      if (!jwtKey) {
        findings.push({ level: 'warn', what: 'no authority has a JWT-SVID signing key (created before JWT-SVID support): SignJwtSvid and FetchJWTSVID are refused', todo: 'castellan root prepare + activate, or wait for the next intermediate rotation (docs/jwt-svid.md)' });
      }
      const fed = await federationRows({ ...(f.dir !== undefined ? { dir: f.dir } : {}), ...(f.config !== undefined ? { config: f.config } : {}) }, io);
      findings.push(...federationFindings(fed.rows, fed.problems, now));
      const level = findings.some((x) => x.level === 'fail') ? 'failing' : findings.length > 0 ? 'warning' : 'healthy';
      if (f.output === 'json') io.out(JSON.stringify({ status: level, findings, rotation: s }, null, 2) + '\n');
      else {
        io.out(`${level.toUpperCase()}: trust domain ${s.trustDomain}, bundle ${s.bundleSequence}, phase ${s.phase}, agents ${s.agents.known ? `${s.agents.current}/${s.agents.live} current` : 'unknown'}\n`);
        for (const x of findings) io.out(`  ${x.level === 'fail' ? 'FAIL' : 'WARN'} ${x.what}\n       do: ${x.todo}\n`);
      }
      if (level === 'failing') throw new CheckResult(EXIT.FAILING);
      if (level === 'warning') throw new CheckResult(EXIT.WARNING);
    });
}

/** Carries `check`'s exit code out of the command (its report is already printed). */
export class CheckResult extends Error {
  constructor(readonly exitCode: number) {
    super(`check: exit ${exitCode}`);
    this.name = 'CheckResult';
  }
}


import path from 'node:path';
import type { Command } from 'commander';
import {
  activateRoot,
  DEFAULT_INTERMEDIATE_ROTATE_AT,
  flushPendingRecords,
  formatDuration,
  loadCa,
  openLedger,
  openLedgerStore,
  prepareRoot,
  readAgentReports,
  retireRoot,
  type KeyType,
  type LifecycleRecorder,
  type LiveLeaves,
  type RotationResult,
  type SigningAuthority,
} from '../ca/index.js';
import { ledgerDatabaseUrl } from './database-url.js';
import { choiceFlag, durationFlag, fractionFlag, keyTypeFlag, positiveNumberFlag } from './flags.js';
import type { CliIo } from './io.js';
import { formatRootStatus, rootStatus } from './root-status.js';

interface DirFlags {
  dir: string;
  databaseUrl?: string;
}

/** Default pace of re-issuance after `root activate`: agents per second the CA should see. */
const DEFAULT_REISSUE_RATE = 50;

function withDir(c: Command): Command {
  return c
    .requiredOption('--dir <dir>', 'the CA directory (shared by the running CA replicas)')
    .option('--database-url <url>', 'the PostgreSQL ledger the CA uses (env CASTELLAN_DATABASE_URL; default: <dir>/ledger.db)');
}

export function registerRoot(program: Command, io: CliIo): void {
  const root = program
    .command('root')
    .description('rotate the root CA without downtime: prepare -> activate -> retire, each gated by what the CA measured')
    .addHelpText(
      'after',
      '\nA running CA (castellan ca serve) picks up every step from the directory within its reload interval (2 s)\n' +
        'and pushes the new trust bundle to its agents at once. Each step is one atomic change of <dir>/ca.json,\n' +
        'safe to retry after a crash, and recorded in the ledger.\n' +
        'Exit codes: 0 done, 1 failure, 2 wrong usage, 3 refused by a gate (the reason is printed; --force overrides).',
    );

  withDir(root.command('status'))
    .description('authority slots, roots and intermediates with expiry, bundle sequence, and which live agents serve it')
    .option('--output <format>', 'table or json', choiceFlag(['table', 'json'] as const), 'table')
    .option('--rotate-at <fraction>', `the CA's rotation.intermediateRotateAt, to show when the intermediate rotates (default ${DEFAULT_INTERMEDIATE_ROTATE_AT})`, fractionFlag)
    .action(async (f: DirFlags & { output: 'table' | 'json'; rotateAt?: number }) => {
      const s = await rootStatus(path.resolve(io.cwd, f.dir), io.now(), { rotateAt: f.rotateAt ?? DEFAULT_INTERMEDIATE_ROTATE_AT });
      io.out(f.output === 'json' ? JSON.stringify(s, null, 2) + '\n' : formatRootStatus(s));
    });

  withDir(root.command('prepare'))
    .description('create a new root and intermediate (the intermediate also cross-signed by the active root) and add the root to the trust bundle')
    .option('--key-type <type>', 'key type of the new root and intermediate (default: that of the active intermediate)', keyTypeFlag)
    .option('--ttl <duration>', 'lifetime of the new root (default 10y)', durationFlag)
    .option('--intermediate-ttl <duration>', 'lifetime of the new intermediate (default: that of the active one)', durationFlag)
    .action(async (f: DirFlags & { keyType?: KeyType; ttl?: number; intermediateTtl?: number }) => {
      const r = await withLedger(f, io, (ctx) =>
        prepareRoot(ctx, {
          ...(f.keyType ? { keyType: f.keyType } : {}),
          ...(f.ttl !== undefined ? { rootTtlMs: f.ttl } : {}),
          ...(f.intermediateTtl !== undefined ? { intermediateTtlMs: f.intermediateTtl } : {}),
        }),
      );
      const p = r.ca.prepared!;
      io.out(
        `prepared root ${p.id}: ${p.root.cert.subject}, key id ${p.root.ski.toString('hex')}, expires ${p.root.notAfter.toISOString()}\n` +
          `intermediate ${p.issuer.serialHex} expires ${p.issuer.notAfter.toISOString()}${p.crossSigned ? '; cross-signed by the active root (cross-cert.pem)' : ''}\n` +
          `trust bundle sequence ${r.ca.bundleSequence} now holds ${r.ca.bundle.length} roots; running CAs push it to their agents.\n` +
          `next: 'castellan root status --dir ${f.dir}' until every live agent serves bundle ${r.ca.bundleSequence}, then 'castellan root activate --dir ${f.dir}'\n`,
      );
      ledgerWarning(r, io);
    });

  withDir(root.command('activate'))
    .description('switch issuance to the prepared root once every live agent trusts it; agents then re-issue, paced')
    .option('--force', 'activate even when agents lag or no running CA reported its agents (their workloads may reject new leaves)')
    .option('--reissue-rate <n>', `re-issuances per second the CA should see from agents (default ${DEFAULT_REISSUE_RATE})`, positiveNumberFlag)
    .action(async (f: DirFlags & { force?: boolean; reissueRate?: number }) => {
      const dir = path.resolve(io.cwd, f.dir);
      const agents = await readAgentReports(dir, io.now());
      const spread = Math.max(1, Math.ceil(agents.live.length / (f.reissueRate ?? DEFAULT_REISSUE_RATE)));
      const r = await withLedger(f, io, (ctx) => activateRoot(ctx, { agents, reissueSpreadSeconds: spread, ...(f.force ? { force: true } : {}) }));
      io.out(
        `activated root ${r.ca.active.id}: new leaves are signed by intermediate ${r.ca.active.issuer.serialHex}` +
          `${f.force ? ' (forced)' : ''}\n` +
          `agents re-issue within ${formatDuration(spread * 1000)} (${agents.live.length} live agents at ${f.reissueRate ?? DEFAULT_REISSUE_RATE}/s); the old root stays in the bundle.\n` +
          `next: once the old root's leaves have expired, 'castellan root retire --dir ${f.dir}'\n`,
      );
      ledgerWarning(r, io);
    });

  withDir(root.command('retire'))
    .description('drop the old root from the trust bundle once no unexpired leaf signed under it remains (per the ledger)')
    .option('--force', 'retire even while leaves of the old root are valid (peers will reject them)')
    .action(async (f: DirFlags & { force?: boolean }) => {
      const r = await withLedger(f, io, (ctx, url) => retireRoot(ctx, { liveLeaves: (ids) => liveLeaves(ctx.dir, url, ids, io.now()), ...(f.force ? { force: true } : {}) }));
      io.out(`retired: the trust bundle (sequence ${r.ca.bundleSequence}) now holds ${r.ca.bundle.length} root(s); running CAs push it to their agents${f.force ? ' (forced)' : ''}\n`);
      ledgerWarning(r, io);
    });
}

/** Runs a transition with the CA's ledger open for its lifecycle record. */
async function withLedger(
  f: DirFlags,
  io: CliIo,
  step: (ctx: { dir: string; now: Date; ledger: LifecycleRecorder }, databaseUrl: string | undefined) => Promise<RotationResult>,
): Promise<RotationResult> {
  const dir = path.resolve(io.cwd, f.dir);
  const url = ledgerDatabaseUrl(f.databaseUrl, io);
  let authority: SigningAuthority = (await loadCa(dir)).active;
  const ledger = await openLedger({ dir, authority: () => authority, now: () => io.now(), ...(url ? { databaseUrl: url } : {}) });
  try {
    // What a crashed step left pending goes to the ledger first (the CA does the same at start).
    const flushed = await flushPendingRecords(dir, ledger).catch((err: unknown) => {
      io.err(`castellan: warning: pending lifecycle records could not be written to the ledger: ${(err as Error).message}\n`);
      return 0;
    });
    if (flushed > 0) io.err(`castellan: wrote ${flushed} lifecycle record(s) a previous step left pending\n`);
    const r = await step({ dir, now: io.now(), ledger }, url);
    authority = r.ca.active; // the closing checkpoint is signed by the authority active now
    return r;
  } finally {
    await ledger.close().catch((err: unknown) => io.err(`castellan: warning: closing the ledger failed: ${(err as Error).message}\n`));
  }
}

/** Unexpired certificates signed by these intermediates, per the ledger. */
async function liveLeaves(dir: string, databaseUrl: string | undefined, issuerKeyIds: string[], now: Date): Promise<LiveLeaves | undefined> {
  const store = await openLedgerStore({ ...(databaseUrl ? { databaseUrl } : { dir }), readOnly: true });
  try {
    let count = 0;
    let last: string | undefined;
    for (const issuerKeyId of issuerKeyIds) {
      const rows = await store.query({ outcome: 'issued', issuerKeyId, validAt: now.toISOString(), limit: 1_000_000 });
      count += rows.length;
      for (const r of rows) if (r.notAfter && (!last || r.notAfter > last)) last = r.notAfter;
    }
    return { count, ...(last ? { lastNotAfter: last } : {}) };
  } finally {
    await store.close();
  }
}

function ledgerWarning(r: RotationResult, io: CliIo): void {
  if (r.ledgerError) {
    io.err(`castellan: warning: the step is done, but its ledger record could not be written (${r.ledgerError.message}); it stays pending in ca.json and the CA writes it\n`);
  }
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_INTERMEDIATE_ROTATE_AT,
  DEFAULT_REISSUE_RATE,
  LEDGER_FILE,
  loadCa,
  openLedger,
  openLedgerStore,
  RootAdmin,
  type KeyType,
  type RootStatus,
  type SigningAuthority,
} from '../ca/index.js';
import type { CaV1, RequestOf } from '../proto-types/index.js';
import { adminClient, stepAnswerOf, withAdminFlags, type AdminFlags, type RootAdminMethod } from './admin-client.js';
import { caTarget } from './ca-target.js';
import { EXIT, ReportedResult } from './exit-codes.js';
import { choiceFlag, positiveDurationFlag, fractionFlag, keyTypeFlag, positiveNumberFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { expiredAuthority, formatRootStatus } from './root-status-format.js';

/** Where a root command acts: the CA directory, or a running CA over gRPC with an admin credential. */
interface TargetFlags extends AdminFlags {
  dir?: string;
  config?: string;
  databaseUrl?: string;
  rotateAt?: number;
}

/** What every step returns, from either target. */
interface StepAnswer {
  message: string;
  warnings: readonly string[];
  status: RootStatus;
}

function withTarget(c: Command): Command {
  withAdminFlags(
    c
      .option('--dir <dir>', 'the CA directory (a running CA picks a change up within its reload interval)')
      .option('--config <file>', "act on the store the CA's configuration names (a directory, or Kubernetes: store.kubernetes); running replicas follow it")
      .option(
        '--database-url <url>',
        'with --dir or --config: the PostgreSQL ledger the CA uses (env CASTELLAN_DATABASE_URL; default: <dir>/ledger.db, or the ledger --config names)',
      ),
    'act through this running CA instead',
  );
  return c
    .option(
      '--rotate-at <fraction>',
      `the CA's rotation.intermediateRotateAt, for the status (default: what the running CA published, else ${DEFAULT_INTERMEDIATE_ROTATE_AT})`,
      fractionFlag,
    )
    .option(
      '--output <format>',
      'text or json (status: the status; a step: {step, message, warnings, status}; errors: one JSON line on stderr)',
      choiceFlag(['text', 'table', 'json'] as const),
      'text',
    );
}

type Output = 'text' | 'table' | 'json';

export function registerRoot(program: Command, io: CliIo): void {
  const root = program
    .command('root')
    .description('rotate the root CA without downtime: prepare -> activate -> retire, each gated by what the CA measured')
    .addHelpText(
      'after',
      '\nEach step is one atomic change of the CA state (<dir>/ca.json, or the Secret with store.kubernetes), safe to\n' +
        'retry after a crash, and recorded in the ledger. With --dir/--config, running CAs pick it up within their\n' +
        'reload interval (rotation.reloadInterval, 2 s); with --server, the CA applies it at once. Either way the new\n' +
        'trust bundle is pushed to every agent.\n' +
        'Exit codes: 0 done, 1 failure, 2 wrong usage, 3 refused by a gate (the reason is printed; --force overrides),\n' +
        '5 (root status) the active root or intermediate has expired.',
    );

  withTarget(root.command('status'))
    .description('authority slots, roots and intermediates with expiry, bundle sequence, and which live agents serve it')
    .addHelpText('after', '\nExit code 5 (as castellan check: failing) when the active root or intermediate has expired; the last line says what to run.')
    .action(async (f: TargetFlags & { output: Output }) => {
      const s = await target(
        f,
        io,
        (admin) => admin.status().then((status) => ({ message: '', warnings: [], status })),
        (rpc) => rpc('GetRootStatus', {}),
        { readOnly: true },
      );
      const now = io.now();
      io.out(f.output === 'json' ? `${JSON.stringify(s.status, null, 2)}\n` : formatRootStatus(s.status, now));
      // An expired CA is not "nothing to do": scripts see it in the exit code, people in the `next:` line.
      const expired = expiredAuthority(s.status, now);
      if (expired) {
        if (f.output !== 'json') io.err(`castellan: ${expired}\n`);
        throw new ReportedResult(EXIT.FAILING);
      }
    });

  withTarget(root.command('prepare'))
    .description('create a new root and intermediate (the intermediate also cross-signed by the active root) and add the root to the trust bundle')
    .option('--key-type <type>', 'key type of the new root and intermediate (default: that of the active intermediate)', keyTypeFlag)
    .option('--ttl <duration>', 'lifetime of the new root (default 10y)', positiveDurationFlag)
    .option('--intermediate-ttl <duration>', 'lifetime of the new intermediate (default: that of the active one)', positiveDurationFlag)
    .action(async (f: TargetFlags & { output: Output; keyType?: KeyType; ttl?: number; intermediateTtl?: number }) => {
      const p = {
        ...(f.keyType ? { keyType: f.keyType } : {}),
        ...(f.ttl !== undefined ? { rootTtlMs: f.ttl } : {}),
        ...(f.intermediateTtl !== undefined ? { intermediateTtlMs: f.intermediateTtl } : {}),
      };
      print(
        'prepare',
        await target(
          f,
          io,
          (admin) => admin.prepare(p),
          (rpc) =>
            rpc('PrepareRoot', { keyType: f.keyType ?? '', rootTtlSeconds: Math.ceil((f.ttl ?? 0) / 1000), intermediateTtlSeconds: Math.ceil((f.intermediateTtl ?? 0) / 1000) }),
        ),
        f.output,
        io,
      );
    });

  withTarget(root.command('activate'))
    .description('switch issuance to the prepared root once every live agent trusts it; agents then re-issue, paced')
    .option('--force', 'activate even when agents lag or no running CA reported its agents (their workloads may reject new leaves)')
    .option('--reissue-rate <n>', `re-issuances per second the CA should see from agents (default ${DEFAULT_REISSUE_RATE})`, positiveNumberFlag)
    .action(async (f: TargetFlags & { output: Output; force?: boolean; reissueRate?: number }) => {
      const a = { ...(f.force ? { force: true } : {}), ...(f.reissueRate !== undefined ? { reissueRate: f.reissueRate } : {}) };
      print(
        'activate',
        await target(
          f,
          io,
          (admin) => admin.activate(a),
          (rpc) => rpc('ActivateRoot', { force: Boolean(f.force), reissueRate: f.reissueRate ?? 0 }),
        ),
        f.output,
        io,
      );
    });

  withTarget(root.command('retire'))
    .description('drop the old root from the trust bundle once no unexpired leaf signed under it remains (per the ledger)')
    .option('--force', 'retire even while leaves of the old root are valid (peers will reject them)')
    .action(async (f: TargetFlags & { output: Output; force?: boolean }) => {
      print(
        'retire',
        await target(
          f,
          io,
          (admin) => admin.retire(f.force ? { force: true } : {}),
          (rpc) => rpc('RetireRoot', { force: Boolean(f.force) }),
        ),
        f.output,
        io,
      );
    });

  withTarget(root.command('rotate-intermediate'))
    .description('a new intermediate under the active root signs from now on (a running CA does this on its own; this is for a CA whose intermediate expired while it was stopped)')
    .option('--ttl <duration>', 'lifetime of the new intermediate (default: that of the active one; capped by the root)', positiveDurationFlag)
    .addHelpText(
      'after',
      "\nThe old intermediate retires and stays valid for the leaves it signed; the roots and the trust bundle's roots\n" +
        "do not change, so agents need nothing new. Refused when the root itself expired: then run 'castellan root prepare'\n" +
        "and 'castellan root activate --force' (docs/root-rotation.md). Recorded in the ledger (event intermediate-rotated).",
    )
    .action(async (f: TargetFlags & { output: Output; ttl?: number }) => {
      print(
        'rotate-intermediate',
        await target(
          f,
          io,
          (admin) => admin.rotateIntermediate(f.ttl !== undefined ? { ttlMs: f.ttl } : {}),
          (rpc) => rpc('RotateIntermediate', { ttlSeconds: Math.ceil((f.ttl ?? 0) / 1000) }),
        ),
        f.output,
        io,
      );
    });
}

/** A step's outcome: for people the message (warnings on stderr); with json one object on stdout. */
function print(step: string, a: StepAnswer, output: Output, io: CliIo): void {
  if (output === 'json') {
    io.out(`${JSON.stringify({ step, message: a.message, warnings: a.warnings, status: a.status }, null, 2)}\n`);
    return;
  }
  for (const w of a.warnings) io.err(`castellan: warning: ${w}\n`);
  io.out(a.message);
}

/** The RootAdmin methods that answer a RootStepResponse (all but GetHealth). */
type StepMethod = Exclude<RootAdminMethod, 'GetHealth'>;
type Rpc = <M extends StepMethod>(method: M, request: RequestOf<CaV1.RootAdminDefinition, M>) => Promise<StepAnswer>;

/** Runs a step on the directory (`--dir`) or through the running CA (`--server`). */
async function target(
  f: TargetFlags,
  io: CliIo,
  local: (admin: RootAdmin) => Promise<StepAnswer>,
  remote: (rpc: Rpc) => Promise<StepAnswer>,
  o: { readOnly?: boolean } = {},
): Promise<StepAnswer> {
  const local_ = f.dir !== undefined || f.config !== undefined;
  if (local_ === (f.server !== undefined))
    throw new UsageError("say where: --dir DIR (the CA directory), --config FILE (the CA's configuration) or --server HOST:PORT (a running CA)");
  if (f.server !== undefined) {
    const call = await adminClient(f, io);
    return remote(async (method, request) => stepAnswerOf(await call(method, request)));
  }
  if (o.readOnly) {
    // Status reads the state only: no ledger is opened (or created).
    const st = await caTarget(f, io, { ledger: false });
    const at = f.rotateAt ?? st.config?.rotation?.intermediateRotateAt;
    const nowhere = { appendLifecycle: () => Promise.reject(new Error('status writes nothing')) };
    try {
      return await local(new RootAdmin({ store: st.store, ledger: nowhere, openStore: undefined, now: () => io.now(), ...(at !== undefined ? { rotateAt: at } : {}) }));
    } finally {
      await st.store.close();
    }
  }
  const tgt = await caTarget(f, io);
  const rotateAt = f.rotateAt ?? tgt.config?.rotation?.intermediateRotateAt;
  const l = tgt.ledger;
  if (l.dir !== undefined && !existsSync(path.join(l.dir, LEDGER_FILE))) {
    throw new UsageError(`no ledger at ${path.join(l.dir, LEDGER_FILE)}: if the CA records to PostgreSQL, pass --database-url (or CASTELLAN_DATABASE_URL)`);
  }
  const ca = await loadCa(tgt.store);
  let authority: SigningAuthority = ca.active;
  const ledger = await openLedger({
    ...l,
    witness: ca.store.witness,
    ...(ca.ledgerGenesis !== undefined ? { genesis: ca.ledgerGenesis } : {}),
    authority: () => authority,
    now: () => io.now(),
  });
  try {
    const admin = new RootAdmin({
      store: ca.store,
      ledger,
      openStore: () => openLedgerStore({ ...l, readOnly: true }),
      now: () => io.now(),
      ...(rotateAt !== undefined ? { rotateAt } : {}),
      // The closing checkpoint is signed by the authority active after the step.
      afterStep: async () => {
        authority = (await loadCa(tgt.store)).active;
      },
    });
    return await local(admin);
  } catch (err) {
    // With --output json the error line is the only thing on stderr.
    if ((f as { output?: string }).output !== 'json') for (const w of (err as { warnings?: string[] }).warnings ?? []) io.err(`castellan: warning: ${w}\n`);
    throw err;
  } finally {
    await ledger.close().catch((err: unknown) => io.err(`castellan: warning: closing the ledger failed: ${(err as Error).message}\n`));
    await tgt.store.close();
  }
}

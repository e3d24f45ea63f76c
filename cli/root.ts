import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { CastellanError, isIpLiteral, parseHostPort } from '../workload-identity/index.js';
import {
  caProtos,
  DEFAULT_INTERMEDIATE_ROTATE_AT,
  DEFAULT_REISSUE_RATE,
  ERROR_CODE_HEADER,
  LEDGER_FILE,
  loadCa,
  openLedger,
  openLedgerStore,
  RootAdmin,
  type KeyType,
  type RootStatus,
  type SigningAuthority,
} from '../ca/index.js';
import { caTarget } from './ca-target.js';
import { choiceFlag, durationFlag, fractionFlag, keyTypeFlag, positiveNumberFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { formatRootStatus } from './root-status-format.js';

/** Where a root command acts: the CA directory, or a running CA over gRPC with an admin credential. */
interface TargetFlags {
  dir?: string;
  config?: string;
  databaseUrl?: string;
  server?: string;
  caBundle?: string;
  tokenFile?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  rotateAt?: number;
}

/** What every step returns, from either target. */
interface StepAnswer {
  message: string;
  warnings: readonly string[];
  status: RootStatus;
}

function withTarget(c: Command): Command {
  return c
    .option('--dir <dir>', 'act on this CA directory (the running CA picks the change up)')
    .option('--config <file>', "act on the store the CA's configuration names (a directory, or Kubernetes: store.kubernetes); running replicas follow it")
    .option('--database-url <url>', 'with --dir: the PostgreSQL ledger the CA uses (env CASTELLAN_DATABASE_URL; default: <dir>/ledger.db)')
    .option('--server <host:port>', 'act through this running CA instead (needs an admin credential: --token-file, or --cert and --key)')
    .option('--ca-bundle <file>', "with --server: PEM roots that verify the CA's serving certificate (its bundle.pem)")
    .option('--token-file <file>', "with --server: a service-account token of an identity in the CA's admin.identities")
    .option('--cert <file>', 'with --server: a client certificate (X509-SVID) of an admin identity, with --key')
    .option('--key <file>', 'with --server: the private key of --cert')
    .option('--server-name <name>', "with --server: DNS name expected in the CA's certificate (default: the host, localhost for an IP)")
    .option('--rotate-at <fraction>', `the CA's rotation.intermediateRotateAt, for the status (default: what the running CA published, else ${DEFAULT_INTERMEDIATE_ROTATE_AT})`, fractionFlag);
}

export function registerRoot(program: Command, io: CliIo): void {
  const root = program
    .command('root')
    .description('rotate the root CA without downtime: prepare -> activate -> retire, each gated by what the CA measured')
    .addHelpText(
      'after',
      '\nEach step is one atomic change of <dir>/ca.json, safe to retry after a crash, and recorded in the ledger.\n' +
        'With --dir, running CAs pick it up within their reload interval (rotation.reloadInterval, 2 s); with\n' +
        '--server, the CA applies it at once. Either way the new trust bundle is pushed to every agent.\n' +
        'Exit codes: 0 done, 1 failure, 2 wrong usage, 3 refused by a gate (the reason is printed; --force overrides).',
    );

  withTarget(root.command('status'))
    .description('authority slots, roots and intermediates with expiry, bundle sequence, and which live agents serve it')
    .option('--output <format>', 'table or json', choiceFlag(['table', 'json'] as const), 'table')
    .action(async (f: TargetFlags & { output: 'table' | 'json' }) => {
      const s = await target(f, io, (admin) => admin.status().then((status) => ({ message: '', warnings: [], status })), (rpc) => rpc('GetRootStatus', {}), { readOnly: true });
      io.out(f.output === 'json' ? JSON.stringify(s.status, null, 2) + '\n' : formatRootStatus(s.status));
    });

  withTarget(root.command('prepare'))
    .description('create a new root and intermediate (the intermediate also cross-signed by the active root) and add the root to the trust bundle')
    .option('--key-type <type>', 'key type of the new root and intermediate (default: that of the active intermediate)', keyTypeFlag)
    .option('--ttl <duration>', 'lifetime of the new root (default 10y)', durationFlag)
    .option('--intermediate-ttl <duration>', 'lifetime of the new intermediate (default: that of the active one)', durationFlag)
    .action(async (f: TargetFlags & { keyType?: KeyType; ttl?: number; intermediateTtl?: number }) => {
      const p = {
        ...(f.keyType ? { keyType: f.keyType } : {}),
        ...(f.ttl !== undefined ? { rootTtlMs: f.ttl } : {}),
        ...(f.intermediateTtl !== undefined ? { intermediateTtlMs: f.intermediateTtl } : {}),
      };
      print(
        await target(f, io, (admin) => admin.prepare(p), (rpc) =>
          rpc('PrepareRoot', { keyType: f.keyType ?? '', rootTtlSeconds: Math.ceil((f.ttl ?? 0) / 1000), intermediateTtlSeconds: Math.ceil((f.intermediateTtl ?? 0) / 1000) }),
        ),
        io,
      );
    });

  withTarget(root.command('activate'))
    .description('switch issuance to the prepared root once every live agent trusts it; agents then re-issue, paced')
    .option('--force', 'activate even when agents lag or no running CA reported its agents (their workloads may reject new leaves)')
    .option('--reissue-rate <n>', `re-issuances per second the CA should see from agents (default ${DEFAULT_REISSUE_RATE})`, positiveNumberFlag)
    .action(async (f: TargetFlags & { force?: boolean; reissueRate?: number }) => {
      const a = { ...(f.force ? { force: true } : {}), ...(f.reissueRate !== undefined ? { reissueRate: f.reissueRate } : {}) };
      print(await target(f, io, (admin) => admin.activate(a), (rpc) => rpc('ActivateRoot', { force: Boolean(f.force), reissueRate: f.reissueRate ?? 0 })), io);
    });

  withTarget(root.command('retire'))
    .description('drop the old root from the trust bundle once no unexpired leaf signed under it remains (per the ledger)')
    .option('--force', 'retire even while leaves of the old root are valid (peers will reject them)')
    .action(async (f: TargetFlags & { force?: boolean }) => {
      print(await target(f, io, (admin) => admin.retire(f.force ? { force: true } : {}), (rpc) => rpc('RetireRoot', { force: Boolean(f.force) })), io);
    });
}

function print(a: StepAnswer, io: CliIo): void {
  for (const w of a.warnings) io.err(`castellan: warning: ${w}\n`);
  io.out(a.message);
}

type Rpc = (method: string, request: object) => Promise<StepAnswer>;

/** Runs a step on the directory (`--dir`) or through the running CA (`--server`). */
async function target(
  f: TargetFlags,
  io: CliIo,
  local: (admin: RootAdmin) => Promise<StepAnswer>,
  remote: (rpc: Rpc) => Promise<StepAnswer>,
  o: { readOnly?: boolean } = {},
): Promise<StepAnswer> {
  const local_ = f.dir !== undefined || f.config !== undefined;
  if (local_ === (f.server !== undefined)) throw new UsageError('say where: --dir DIR (the CA directory), --config FILE (the CA\'s configuration) or --server HOST:PORT (a running CA)');
  if (f.server !== undefined) return remote(await adminRpc(f, io));
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
    for (const w of (err as { warnings?: string[] }).warnings ?? []) io.err(`castellan: warning: ${w}\n`);
    throw err;
  } finally {
    await ledger.close().catch((err: unknown) => io.err(`castellan: warning: closing the ledger failed: ${(err as Error).message}\n`));
    await tgt.store.close();
  }
}

/** A RootAdmin client: TLS to the CA, the admin credential as bearer token or client certificate. */
async function adminRpc(f: TargetFlags, io: CliIo): Promise<Rpc> {
  if (f.caBundle === undefined) throw new UsageError("--server needs --ca-bundle FILE: the roots that verify the CA's serving certificate");
  if (f.tokenFile === undefined && (f.cert === undefined || f.key === undefined)) throw new UsageError('--server needs an admin credential: --token-file FILE, or --cert FILE and --key FILE');
  const read = async (file: string) => {
    try {
      return await fs.readFile(path.resolve(io.cwd, file));
    } catch (cause) {
      throw new UsageError(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const roots = await read(f.caBundle);
  const token = f.tokenFile !== undefined ? (await read(f.tokenFile)).toString('utf8').trim() : undefined;
  const client = f.cert !== undefined && f.key !== undefined ? { key: await read(f.key), cert: await read(f.cert) } : undefined;
  const { host } = parseHostPort(f.server!);
  const name = f.serverName ?? (isIpLiteral(host) ? 'localhost' : host);
  const Ctor = caProtos().rootAdmin;
  const stub = new Ctor(f.server!, credentials.createSsl(roots, client?.key ?? null, client?.cert ?? null), {
    'grpc.ssl_target_name_override': name,
    'grpc.default_authority': name,
  });
  return (method, request) =>
    new Promise<StepAnswer>((resolve, reject) => {
      const md = new Metadata();
      if (token !== undefined) md.set('authorization', `Bearer ${token}`);
      (stub as unknown as Record<string, (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, r?: { message: string; warnings: string[]; statusJson: string }) => void) => void>)[method]!(
        request,
        md,
        { deadline: Date.now() + 60_000 },
        (err, r) => {
          stub.close();
          if (err) {
            const code = String(err.metadata?.get(ERROR_CODE_HEADER)[0] ?? '');
            if (code === '' && err.code === status.UNAVAILABLE) {
              reject(new CastellanError('ERR_ROOT_ADMIN', `root: cannot reach the CA at ${f.server} (${err.details}); check --server, --ca-bundle and --server-name`));
              return;
            }
            // The CA's message says what to do; its stable code keeps exit 3 for a gate's refusal.
            reject(new CastellanError(code === 'ERR_ROTATION_GATE' ? 'ERR_ROTATION_GATE' : 'ERR_ROOT_ADMIN', err.details || `root: ${method} failed (gRPC status ${err.code})`));
          } else resolve({ message: r!.message, warnings: r!.warnings ?? [], status: JSON.parse(r!.statusJson) as RootStatus });
        },
      );
    });
}

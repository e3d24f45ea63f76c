import { promises as fs } from 'node:fs';
import path from 'node:path';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { CaV1, MethodName, RequestOf, ResponseOf, UnaryCalls } from '../proto-types/index.js';
import { CastellanError, grpcDetails, isIpLiteral, parseHostPort } from '../workload-identity/index.js';
import { caHealthOf, caProtos, ERROR_CODE_HEADER, rootStatusOf, type CaHealth, type RootStatus } from '../ca/index.js';
import { UsageError, type CliIo } from './io.js';

/** Flags naming a running CA and the admin credential to reach its RootAdmin service with. */
export interface AdminFlags {
  server?: string;
  caBundle?: string;
  tokenFile?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** A method of the CA's RootAdmin service (proto/castellan/ca/v1/ca.proto). */
export type RootAdminMethod = MethodName<CaV1.RootAdminDefinition>;

/** One RootAdmin call: the method's request and its answer as grpc-js decoded it, typed by the generated RootAdmin definition. */
export type AdminCall = <M extends RootAdminMethod>(method: M, request: RequestOf<CaV1.RootAdminDefinition, M>) => Promise<ResponseOf<CaV1.RootAdminDefinition, M>>;

/** A RootAdmin step's answer: its typed status, or the JSON form a CA older than RootStepResponse.status sends. */
export function stepAnswerOf(r: CaV1.RootStepResponse__Output): { message: string; warnings: string[]; status: RootStatus } {
  return { message: r.message, warnings: r.warnings, status: r.status ? rootStatusOf(r.status) : (JSON.parse(r.statusJson) as RootStatus) };
}

/** GetHealth's answer: the typed health, or the JSON form a CA older than GetHealthResponse.health sends. */
export function healthOf(r: CaV1.GetHealthResponse__Output): CaHealth {
  return r.health ? caHealthOf(r.health) : (JSON.parse(r.healthJson) as CaHealth);
}

/** Adds `--server` and its credential flags (root, check, version). */
export function withAdminFlags(c: Command, what = 'act through this running CA'): Command {
  return c
    .option('--server <host:port>', `${what} (its gRPC address; needs an admin credential: --token-file, or --cert and --key)`)
    .option('--ca-bundle <file>', "with --server: PEM roots that verify the CA's serving certificate (its bundle.pem)")
    .option('--token-file <file>', "with --server: a service-account token of an identity in the CA's admin.identities")
    .option('--cert <file>', 'with --server: a client certificate (X509-SVID) of an admin identity, with --key')
    .option('--key <file>', 'with --server: the private key of --cert')
    .option('--server-name <name>', "with --server: DNS name expected in the CA's certificate (default: the host, localhost for an IP)");
}

/**
 * A client of the CA's RootAdmin service (docs/cli.md, `castellan root --server`): TLS to the CA, the
 * admin credential as bearer token or client certificate. Each call has a deadline of `timeoutMs`.
 * Failures are CastellanErrors: the CA's stable code when it sent one (ERR_ROTATION_GATE keeps exit 3),
 * ERR_ROOT_ADMIN otherwise, with a message saying which flag to check when the CA cannot be reached.
 *
 * @example const call = await adminClient(flags, io); const r = await call('GetHealth', {});
 */
export async function adminClient(f: AdminFlags, io: CliIo, o: { timeoutMs?: number } = {}): Promise<AdminCall> {
  if (f.server === undefined) throw new UsageError('--server HOST:PORT is required here');
  if (f.caBundle === undefined) throw new UsageError("--server needs --ca-bundle FILE: the roots that verify the CA's serving certificate");
  if (f.tokenFile === undefined && (f.cert === undefined || f.key === undefined))
    throw new UsageError('--server needs an admin credential: --token-file FILE, or --cert FILE and --key FILE');
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
  const server = f.server;
  const { host } = parseHostPort(server);
  const name = f.serverName ?? (isIpLiteral(host) ? 'localhost' : host);
  const Ctor = caProtos().rootAdmin;
  const timeoutMs = o.timeoutMs ?? 60_000;
  // One channel per call: a command makes one call (check --wait one per poll) and must not keep the process alive.
  return <M extends RootAdminMethod>(method: M, request: RequestOf<CaV1.RootAdminDefinition, M>) =>
    new Promise<ResponseOf<CaV1.RootAdminDefinition, M>>((resolve, reject) => {
      const stub = new Ctor(server, credentials.createSsl(roots, client?.key ?? null, client?.cert ?? null), {
        'grpc.ssl_target_name_override': name,
        'grpc.default_authority': name,
      });
      const md = new Metadata();
      if (token !== undefined) md.set('authorization', `Bearer ${token}`);
      // The method's own serializers from the generated definition: one typed call for every method.
      const calls: UnaryCalls<CaV1.RootAdminDefinition> = Ctor.service;
      const def = calls[method];
      stub.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, md, { deadline: Date.now() + timeoutMs }, (err, r) => {
        stub.close();
        if (!err) return r ? resolve(r) : reject(new CastellanError('ERR_ROOT_ADMIN', `${method}: the CA sent no answer`));
        const code = String(err.metadata?.get(ERROR_CODE_HEADER)[0] ?? '');
        const details = grpcDetails(err.details ?? '');
        if (code === '' && (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED)) {
          reject(
            new CastellanError('ERR_ROOT_ADMIN', `cannot reach the CA at ${server} (${details || status[err.code]}); check --server, --ca-bundle and --server-name`, {
              context: { grpcStatus: err.code },
            }),
          );
          return;
        }
        if (err.code === status.UNIMPLEMENTED && code === '') {
          reject(
            new CastellanError('ERR_ROOT_ADMIN', `the CA at ${server} does not implement ${method} (an older Castellan, or RootAdmin is off)`, {
              context: { grpcStatus: err.code },
            }),
          );
          return;
        }
        // The CA's message says what to do; its stable code keeps exit 3 for a gate's refusal.
        reject(
          new CastellanError(code.startsWith('ERR_') ? code : 'ERR_ROOT_ADMIN', details || `${method} failed (gRPC status ${err.code})`, { context: { grpcStatus: err.code } }),
        );
      });
    });
}

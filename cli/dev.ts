import { createWriteStream, promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { kubernetesWorkloadId, mintServiceAccountToken, TrustDomain } from '../workload-identity/index.js';
import { formatDuration, initCa, loadCa, loadDevTokenIssuer, startCaServer, STATE_FILE, writeFileAtomic, type CaDirectory } from '../ca/index.js';
import { startAgent } from '../sds/index.js';
import { describeCa } from './ca-init.js';
import { recordCaInit } from './ca-init-record.js';
import { demoTlsServer, demoWorkloads, handshakeUntilStopped, type Say } from './dev-demo.js';
import { durationFlag, positiveDurationFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

interface DevFlags {
  dir: string;
  ttl: number;
  duration?: number;
  interval: number;
  renewFraction: string;
}

/** The two demo workloads: Kubernetes namespace/service account each. */
const WORKLOADS = { server: { namespace: 'demo', serviceAccount: 'server' }, client: { namespace: 'demo', serviceAccount: 'client' } } as const;
/** sun_path holds 107 bytes plus NUL on Linux. */
const MAX_SOCKET_PATH = 107;

/**
 * `castellan dev`: the embedded default. A local CA (created or reused), served in-process
 * with its dev token issuer; an agent in node mode on a Unix socket; and two demo workloads, a Node TLS
 * server and client, whose certificates and trust bundle come only over SDS from that socket. They
 * handshake (mTLS) every interval while the short-lived certificates rotate, and every event is printed
 * on one line.
 */
export function registerDev(program: Command, io: CliIo): void {
  program
    .command('dev')
    .description('run the embedded default: a local CA, an agent serving Envoy SDS on a Unix socket, and two demo workloads doing mTLS with SDS-delivered, rotating certificates')
    .option('--dir <dir>', 'CA directory to create or reuse', '.castellan')
    .addOption(new Option('--ttl <duration>', 'workload certificate lifetime (at least 1m); renewed at about half of it').argParser(positiveDurationFlag).default(60_000, '1m'))
    .option('--duration <duration>', 'stop on its own after this long (default: run until Ctrl-C)', durationFlag)
    .addOption(new Option('--interval <duration>', 'time between demo handshakes').argParser(positiveDurationFlag).default(1_000, '1s'))
    .option('--renew-fraction <f>', 'renew after this fraction of the lifetime, 0 < f < 1 (tests use small ones)', '0.5')
    .addHelpText(
      'after',
      '\nThe socket serves node mode: a stream sends its workload\'s token as "authorization: Bearer <token>";\n' +
        'dev tokens for demo/server and demo/client are written next to the CA (mint more with castellan token mint).\n' +
        'Component logs (JSON) go to <dir>/dev.log. Ctrl-C stops everything and removes the socket.',
    )
    .action(async (f: DevFlags) => {
      const renewFraction = Number(f.renewFraction);
      if (!(renewFraction > 0 && renewFraction < 1)) throw new UsageError(`--renew-fraction: want a number between 0 and 1, got ${JSON.stringify(f.renewFraction)}`);
      if (f.ttl < 60_000 || f.ttl % 1000 !== 0) throw new UsageError('--ttl: want whole seconds, at least 1m');
      if (f.interval < 10) throw new UsageError('--interval: at least 10ms');
      await runDev(f, renewFraction, io);
    });
}

/** Cleanup steps run in reverse order of registration, each awaited (the dev command's one way down). */
class Cleanups {
  private readonly steps: (() => Promise<void> | void)[] = [];

  push(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }
}

async function runDev(f: DevFlags, renewFraction: number, io: CliIo): Promise<void> {
  const say: Say = (line) => io.out(`${io.now().toISOString().slice(11, 19)}  ${line}\n`);
  const dir = path.resolve(io.cwd, f.dir);
  const ca = await openDevCa(dir, io);
  io.out(describeCa(ca, io.now()));

  const logFile = path.join(dir, 'dev.log');
  const logStream = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const log = pino({ level: 'info' }, logStream);
  const cleanups = new Cleanups();
  try {
    const { server: caServer } = await startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', shutdownGrace: 1_000 }, devIssuer: true, log });
    cleanups.push(() => caServer.shutdown(1_000));
    const caAddress = `127.0.0.1:${caServer.grpcPort}`;
    const tokens = await writeDemoTokens(dir);
    const socketPath = await devSocketPath(dir, cleanups);

    let rotations = 0;
    const agent = await startAgent({
      caAddress,
      caBundlePem: ca.bundle.map((c) => c.pem).join(''),
      mode: 'node',
      ttlMs: f.ttl,
      renewal: { fraction: renewFraction, jitter: Math.min(0.1, renewFraction / 5) },
      backoff: { initialMs: 500, maxMs: 10_000 },
      agentId: 'castellan-dev',
      socketPath,
      log,
      onEvent: (e) => {
        if (e.type === 'issued' && e.renewal) rotations++;
        if (e.type === 'failed')
          say(
            `agent     request for ${e.spiffeId?.toString() ?? 'a workload'} failed (${e.code}); retrying in ${formatDuration(e.retryInMs)}, serving the current certificate meanwhile`,
          );
      },
    });
    cleanups.push(() => agent.close());
    io.out(
      `\nCA        gRPC/TLS on ${caAddress} (dev token issuer), logs in ${logFile}\n` +
        `agent     node mode, Envoy SDS v3 + SPIFFE Workload API on unix:${socketPath}\n` +
        `          certificates live ${formatDuration(f.ttl)}, renewed at ${Math.round(renewFraction * 100)}% of that\n` +
        `          tokens for the demo workloads: ${tokens.files.server}, ${tokens.files.client}\n` +
        `          point Envoy at the socket: see examples/envoy/README.md\n` +
        `${f.duration !== undefined ? `running for ${formatDuration(f.duration)}` : 'press Ctrl-C to stop'}\n\n`,
    );

    const sds = demoWorkloads(socketPath, tokens.values, log, say);
    cleanups.push(() => {
      sds.server.close();
      sds.client.close();
    });
    const first = await withTimeout(Promise.all([sds.server.ready(), sds.client.ready()]), 15_000, `the demo workloads got no certificate over SDS within 15 s; see ${logFile}`);
    const expected = {
      server: kubernetesWorkloadId(ca.trustDomain, WORKLOADS.server.namespace, WORKLOADS.server.serviceAccount).toString(),
      client: kubernetesWorkloadId(ca.trustDomain, WORKLOADS.client.namespace, WORKLOADS.client.serviceAccount).toString(),
    };
    const server = await demoTlsServer(first[0], sds.server, expected.client);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const stop = stopSignal(f.duration);
    cleanups.push(stop.dispose);
    const { handshakes, failures } = await handshakeUntilStopped(sds.client, (server.address() as AddressInfo).port, expected.server, f.interval, stop, say);
    io.out(`\nstopped: ${handshakes} handshakes, ${failures} failed, ${rotations} certificate rotations\n`);
    if (failures > 0) throw new Error(`${failures} demo handshakes failed; see ${logFile}`);
  } finally {
    await cleanups.run();
    await new Promise<void>((resolve) => logStream.end(() => resolve()));
  }
}

/** The CA directory in `dir`: reused when it holds one, else created (and its creation recorded). */
async function openDevCa(dir: string, io: CliIo): Promise<CaDirectory> {
  if (await exists(path.join(dir, STATE_FILE))) {
    const ca = await loadCa(dir);
    io.out(`using the CA in ${dir}\n`);
    return ca;
  }
  const ca = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local'), now: io.now() });
  await recordCaInit(ca, undefined, io, 'castellan dev');
  io.out(`created a CA in ${dir}\n`);
  return ca;
}

/**
 * Dev tokens for the demo workloads, shaped like projected service-account tokens, from the CA
 * directory's dev issuer; each also written to `<dir>/dev-tokens/<name>.token` (0600).
 */
async function writeDemoTokens(dir: string): Promise<{ values: Record<keyof typeof WORKLOADS, string>; files: Record<keyof typeof WORKLOADS, string> }> {
  const issuer = await loadDevTokenIssuer(dir);
  const tokenDir = path.join(dir, 'dev-tokens');
  await fs.mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const values: Record<keyof typeof WORKLOADS, string> = { server: '', client: '' };
  const files: Record<keyof typeof WORKLOADS, string> = { server: path.join(tokenDir, 'server.token'), client: path.join(tokenDir, 'client.token') };
  for (const name of ['server', 'client'] as const) {
    values[name] = await mintServiceAccountToken(issuer.privateKey, issuer.kid, {
      issuer: issuer.issuer,
      audiences: ['castellan'],
      ...WORKLOADS[name],
      ttlSeconds: 48 * 3600, // the agent renews with the SVID itself once it expires
    });
    await writeFileAtomic(files[name], values[name], 0o600);
  }
  return { values, files };
}

/** `<dir>/agent/sds.sock`, or one in a private temp directory (removed by `cleanups`) when that path is too long for a Unix socket. */
async function devSocketPath(dir: string, cleanups: Cleanups): Promise<string> {
  const socketPath = path.join(dir, 'agent', 'sds.sock');
  if (Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH) return socketPath;
  const tmp = await fs.mkdtemp(path.join(tmpdir(), 'castellan-dev-'));
  cleanups.push(() => fs.rm(tmp, { recursive: true, force: true }));
  return path.join(tmp, 'sds.sock');
}

/** Resolves on SIGINT/SIGTERM or after `durationMs`. */
function stopSignal(durationMs: number | undefined): { promise: Promise<void>; stopped: () => boolean; dispose: () => void } {
  let stopped = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const on = () => {
    stopped = true;
    resolve();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  const timer = durationMs !== undefined ? setTimeout(on, durationMs) : undefined;
  return {
    promise,
    stopped: () => stopped,
    dispose: () => {
      clearTimeout(timer);
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

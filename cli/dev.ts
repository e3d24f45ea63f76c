import { createWriteStream, promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { kubernetesWorkloadId, mintServiceAccountToken, spiffeIdOf, TrustDomain, uriSansOf } from '../workload-identity/index.js';
import { formatDuration, initCa, loadCa, loadDevTokenIssuer, startCaServer, STATE_FILE, writeFileAtomic, type CaDirectory } from '../ca/index.js';
import { SdsClient, startAgent, type SdsIdentity } from '../sds/index.js';
import { describeCa } from './ca-init.js';
import { recordCaInit } from './ca-init-record.js';
import { durationFlag } from './flags.js';
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

/** The peer certificate's SPIFFE ID (its URI SAN, X509-SVID §2) and serial. */
function peerOf(s: TLSSocket): { id: string; serial: string } {
  const c = s.getPeerCertificate();
  return { id: uriSansOf(c.subjectaltname)[0] ?? '(no URI SAN)', serial: (c.serialNumber ?? '').toLowerCase() };
}

/**
 * Why a peer's X509-SVID is not the expected identity, or undefined when it is. X509-SVID §5: a peer is
 * authorized by its SPIFFE ID, the certificate's one URI SAN, not by a host name.
 */
function wrongPeer(subjectaltname: string | undefined, expected: string): string | undefined {
  const uris = uriSansOf(subjectaltname);
  if (uris.length !== 1) return `the peer certificate has ${uris.length} URI SANs, want exactly one (X509-SVID)`;
  return uris[0] === expected ? undefined : `the peer is ${uris[0]}, want ${expected}`;
}

/** Serial, SPIFFE ID and notAfter of the leaf an SDS identity carries. */
async function leafOf(id: SdsIdentity): Promise<{ serial: string; spiffeId: string; notAfter: Date }> {
  const { X509Certificate } = await import('node:crypto');
  const leaf = new X509Certificate(id.certificateChainPem);
  return { serial: leaf.serialNumber.toLowerCase(), spiffeId: spiffeIdOf(leaf)?.toString() ?? '?', notAfter: new Date(leaf.validTo) };
}

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
    .addOption(new Option('--ttl <duration>', 'workload certificate lifetime (at least 1m); renewed at about half of it').argParser(durationFlag).default(60_000, '1m'))
    .option('--duration <duration>', 'stop on its own after this long (default: run until Ctrl-C)', durationFlag)
    .addOption(new Option('--interval <duration>', 'time between demo handshakes').argParser(durationFlag).default(1_000, '1s'))
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

async function runDev(f: DevFlags, renewFraction: number, io: CliIo): Promise<void> {
  const say = (line: string) => io.out(`${io.now().toISOString().slice(11, 19)}  ${line}\n`);
  // Serials are 128-bit random numbers: their first 12 hex digits are plenty to tell them apart.
  const short = (serial: string) => `${serial.slice(0, 12)}…`;
  const dir = path.resolve(io.cwd, f.dir);
  let ca: CaDirectory;
  if (await exists(path.join(dir, STATE_FILE))) {
    ca = await loadCa(dir);
    io.out(`using the CA in ${dir}\n`);
  } else {
    ca = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local'), now: io.now() });
    await recordCaInit(ca, undefined, io, 'castellan dev');
    io.out(`created a CA in ${dir}\n`);
  }
  io.out(describeCa(ca, io.now()));

  const logFile = path.join(dir, 'dev.log');
  const logStream = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const log = pino({ level: 'info' }, logStream);
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const { server: caServer } = await startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', shutdownGrace: 1_000 }, devIssuer: true, log });
    cleanups.push(() => caServer.shutdown(1_000));
    const caAddress = `127.0.0.1:${caServer.grpcPort}`;

    // Dev tokens, shaped like projected service-account tokens, from the CA directory's dev issuer.
    const issuer = await loadDevTokenIssuer(dir);
    const tokenDir = path.join(dir, 'dev-tokens');
    await fs.mkdir(tokenDir, { recursive: true, mode: 0o700 });
    const tokens: Record<keyof typeof WORKLOADS, string> = { server: '', client: '' };
    for (const name of ['server', 'client'] as const) {
      tokens[name] = await mintServiceAccountToken(issuer.privateKey, issuer.kid, {
        issuer: issuer.issuer,
        audiences: ['castellan'],
        ...WORKLOADS[name],
        ttlSeconds: 48 * 3600, // the agent renews with the SVID itself once it expires
      });
      await writeFileAtomic(path.join(tokenDir, `${name}.token`), tokens[name], 0o600);
    }

    let socketPath = path.join(dir, 'agent', 'sds.sock');
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      const tmp = await fs.mkdtemp(path.join(tmpdir(), 'castellan-dev-'));
      cleanups.push(() => fs.rm(tmp, { recursive: true, force: true }));
      socketPath = path.join(tmp, 'sds.sock');
    }
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
        if (e.type === 'failed') say(`agent     request for ${e.spiffeId ?? 'a workload'} failed (${e.code}); retrying in ${formatDuration(e.retryInMs)}, serving the current certificate meanwhile`);
      },
    });
    cleanups.push(() => agent.close());
    io.out(
      `\nCA        gRPC/TLS on ${caAddress} (dev token issuer), logs in ${logFile}\n` +
        `agent     node mode, Envoy SDS v3 + SPIFFE Workload API on unix:${socketPath}\n` +
        `          certificates live ${formatDuration(f.ttl)}, renewed at ${Math.round(renewFraction * 100)}% of that\n` +
        `          tokens for the demo workloads: ${path.join(tokenDir, 'server.token')}, ${path.join(tokenDir, 'client.token')}\n` +
        `          point Envoy at the socket: see examples/envoy/README.md\n` +
        `${f.duration !== undefined ? `running for ${formatDuration(f.duration)}` : 'press Ctrl-C to stop'}\n\n`,
    );

    // The two demo workloads: each gets its identity only from SDS and swaps it on every push.
    const sds = {
      server: new SdsClient({ socketPath, token: tokens.server, nodeId: 'demo-server', log }),
      client: new SdsClient({ socketPath, token: tokens.client, nodeId: 'demo-client', log }),
    };
    cleanups.push(() => {
      sds.server.close();
      sds.client.close();
    });
    for (const name of ['server', 'client'] as const) {
      let last: string | undefined;
      sds[name].on('identity', (id) => {
        void leafOf(id).then((leaf) => {
          const left = formatDuration(leaf.notAfter.getTime() - Date.now());
          say(last === undefined
            ? `${name.padEnd(9)} identity ${leaf.spiffeId}  serial ${short(leaf.serial)}  expires in ${left}`
            : `${name.padEnd(9)} rotated  serial ${short(last)} -> ${short(leaf.serial)}  expires in ${left}`);
          last = leaf.serial;
        });
      });
    }
    const first = await withTimeout(Promise.all([sds.server.ready(), sds.client.ready()]), 15_000, 'the demo workloads got no certificate over SDS within 15 s; see ' + logFile);
    const expected = {
      server: kubernetesWorkloadId(ca.trustDomain, WORKLOADS.server.namespace, WORKLOADS.server.serviceAccount).toString(),
      client: kubernetesWorkloadId(ca.trustDomain, WORKLOADS.client.namespace, WORKLOADS.client.serviceAccount).toString(),
    };
    const server = await demoTlsServer(first[0], sds.server, expected.client);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;

    let handshakes = 0;
    let failures = 0;
    const stop = stopSignal(f.duration);
    cleanups.push(stop.dispose);
    while (!stop.stopped()) {
      try {
        const r = await demoHandshake(sds.client, port, expected.server);
        handshakes++;
        say(`mTLS #${handshakes} ${r.protocol}  client saw ${r.server.id} ${short(r.server.serial)}  server saw ${r.client.id} ${short(r.client.serial)}`);
      } catch (err) {
        failures++;
        say(`handshake FAILED: ${(err as Error).message}`);
      }
      await Promise.race([stop.promise, new Promise((r) => setTimeout(r, f.interval))]);
    }
    io.out(`\nstopped: ${handshakes} handshakes, ${failures} failed, ${rotations} certificate rotations\n`);
    if (failures > 0) throw new Error(`${failures} demo handshakes failed; see ${logFile}`);
  } finally {
    await cleanup();
    await new Promise<void>((resolve) => logStream.end(() => resolve()));
  }
}

/**
 * The demo TLS server: requires a client certificate chaining to the SDS trust bundle and whose SPIFFE
 * ID is `expectedClientId`; answers each connection with both peers' IDs and serials as JSON (or why it
 * refused the client).
 *
 * @example const server = await demoTlsServer(await sds.ready(), sds, 'spiffe://cluster.local/ns/demo/sa/client');
 */
export async function demoTlsServer(first: SdsIdentity, sds: SdsClient, expectedClientId: string): Promise<Server> {
  const server = createServer({ cert: first.certificateChainPem, key: first.privateKeyPem, ca: first.trustedCaPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    const refused = wrongPeer(s.getPeerCertificate().subjectaltname, expectedClientId);
    s.end(JSON.stringify(refused ? { refused } : peerOf(s)));
  });
  // A new SecureContext for every SDS push: new connections use it, open ones keep theirs.
  sds.on('identity', (id) => server.setSecureContext({ cert: id.certificateChainPem, key: id.privateKeyPem, ca: id.trustedCaPem }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * One demo mTLS handshake with the client's current SDS identity. Fails unless the server's SPIFFE ID
 * is `expectedServerId` (checked instead of the host name, X509-SVID §5) and the server accepted ours.
 *
 * @example const r = await demoHandshake(sds, port, 'spiffe://cluster.local/ns/demo/sa/server');
 */
export function demoHandshake(sds: SdsClient, port: number, expectedServerId: string): Promise<{ protocol: string; server: { id: string; serial: string }; client: { id: string; serial: string } }> {
  const id = sds.current()!;
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      cert: id.certificateChainPem,
      key: id.privateKeyPem,
      ca: id.trustedCaPem,
      checkServerIdentity: (_host, cert) => {
        const wrong = wrongPeer(cert.subjectaltname, expectedServerId);
        return wrong ? new Error(`server identity: ${wrong}`) : undefined;
      },
    });
    let body = '';
    let seen: { protocol: string; server: { id: string; serial: string } } | undefined;
    s.setTimeout(5_000, () => s.destroy(new Error('handshake timed out')));
    s.on('secureConnect', () => (seen = { protocol: s.getProtocol() ?? '?', server: peerOf(s) }));
    s.on('data', (d: Buffer) => (body += d.toString()));
    s.on('end', () => {
      s.destroy();
      if (!seen || body === '') return reject(new Error('the server closed without answering'));
      const answer = JSON.parse(body) as { id: string; serial: string } | { refused: string };
      if ('refused' in answer) reject(new Error(`the server refused our identity: ${answer.refused}`));
      else resolve({ ...seen, client: answer });
    });
    s.on('error', reject);
  });
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

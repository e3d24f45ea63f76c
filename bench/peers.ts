// npm run bench:peers — Castellan next to its peers, measured side by side in one run on this machine:
//
//   Castellan  CreateCertificate (Istio API, TLS, a fresh service-account JWT per request) and Sign,
//              the CA started as `castellan ca serve` with the ledger on (SQLite, synchronous FULL)
//   SPIRE      BatchNewX509SVID (an attested agent over mTLS) and MintX509SVID (the admin Unix socket),
//              spire-server built from the Go module proxy (test/spire/build.sh)
//   step-ca    POST /1.0/sign with a one-time JWK-provisioner token, when it builds
//
// One load generator drives them all (bench/peers/, Go, so the client costs the same whatever the
// server): BENCH_CONCURRENCY callers (default 32) on their own connections, distinct fresh P-256 keys,
// BENCH_SECONDS per round (default 20), BENCH_ROUNDS rounds (default 3) interleaved over the servers.
// For each it prints the median certificates per second, p50/p99 latency, the server's CPU time per
// certificate (all its threads and processes, from /proc) and its disk writes per certificate, and the
// ratio to Castellan's CreateCertificate (run as `auto` configures it here, and again with two signing
// workers: castellan-workers), and the load generator's own CPU per certificate. Then the agents' idle memory: a Castellan agent in sidecar
// mode and a spire-agent, each holding one workload SVID it has served once, and the CPU time of
// `castellan --version`.
//
// A peer that cannot be built or started is skipped with the reason. BENCH_PEERS=castellan-istio,spire-mint
// limits the run; BENCH_CASTELLAN_BASE=<another checkout, built> adds its CreateCertificate as
// `castellan-base` (a before/after comparison in the same run); BENCH_CASTELLAN_CONFIG adds lines to
// this checkout's CA configuration.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SdsClient } from '../sds/index.js';
import { tempDir } from '../test/helpers/test-ca.js';

const exec = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ONLY = process.env.BENCH_PEERS?.split(',').map((s) => s.trim());
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const cache = path.join(homedir(), '.cache', 'castellan');
const t = tempDir('castellan-bench-peers-');
const say = (s: string) => process.stdout.write(`${s}\n`);
const children: ChildProcess[] = [];
const stopAll = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
};
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

interface Run {
  ok: number;
  failures: Record<string, number>;
  elapsed: number;
  p50: number;
  p99: number;
  cpuSeconds: number;
  mainThreadCpuSeconds: number;
  /** The load generator's own CPU over the round: what of the machine's cores the server did not get. */
  clientCpuSeconds: number;
  writeBytes: number;
  reused: number;
}
interface Peer {
  name: string;
  what: string;
  /** A Node server: its main thread (the event loop) is reported on its own. */
  node?: boolean;
  pid: number;
  args: string[];
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(200);
  }
}
function start(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const out = path.join(t.dir, log);
  writeFileSync(out, '');
  const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  c.stdout!.on('data', (b: Buffer) => chunks.push(b));
  c.stderr!.on('data', (b: Buffer) => chunks.push(b));
  c.on('exit', () => {
    // Kept for a look after a failed run; the temp folder may be gone already at the end of a good one.
    if (existsSync(t.dir)) writeFileSync(out, Buffer.concat(chunks));
  });
  (c as ChildProcess & { output: () => string }).output = () => Buffer.concat(chunks).toString();
  children.push(c);
  return c;
}
const outputOf = (c: ChildProcess) => (c as ChildProcess & { output: () => string }).output();
const freePort = async () => {
  const net = await import('node:net');
  return new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
};
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

// ---- the load generator -------------------------------------------------------------------------
const skipped: string[] = [];
const haveGo = await exec('go', ['version']).then(
  () => true,
  () => false,
);
if (!haveGo) {
  say('bench:peers: skipped: Go is not installed (the load generator and the peers are Go programs)');
  process.exit(0);
}
const loadgen = path.join(cache, 'bench-peers', 'peers');
mkdirSync(path.dirname(loadgen), { recursive: true });
say('building the load generator (bench/peers, Go) ...');
await exec('nice', ['go', 'build', '-o', loadgen, '.'], { cwd: path.join(here, 'peers'), env: { ...process.env, GOFLAGS: '-mod=mod' } });

// ---- Castellan ----------------------------------------------------------------------------------
const castellanCli = (checkout: string) => path.join(checkout, 'bin', 'castellan.js');
function distIsStale(checkout: string): boolean {
  const built = path.join(checkout, 'dist', 'cli', 'main.js');
  if (!existsSync(built)) return true;
  const mtime = statSync(built).mtimeMs;
  const newer = (dir: string): boolean =>
    (existsSync(dir) ? readdirSync(dir) : []).some((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? newer(p) : p.endsWith('.ts') && statSync(p).mtimeMs > mtime;
    });
  return ['ca', 'cli', 'sds', 'workload-identity'].some((d) => newer(path.join(checkout, d)));
}
if (distIsStale(root)) {
  say('dist/ is older than the sources: npm run build ...');
  await exec('npm', ['run', 'build'], { cwd: root });
}

const peers: Peer[] = [];
const wanted = (name: string) => !ONLY || ONLY.includes(name);

async function startCastellan(name: string, checkout: string, more: readonly string[] = []): Promise<{ pid: number; port: number; dir: string }> {
  const dir = path.join(t.dir, name);
  await exec(process.execPath, [castellanCli(checkout), 'ca', 'init', '--dir', path.join(dir, 'ca'), '--trust-domain', 'cluster.local']);
  // Production settings but for the rate limits, which a 32-caller benchmark from one address would hit.
  const config = path.join(dir, 'ca.yaml');
  const big = '{ ratePerSecond: 1000000, burst: 1000000 }';
  writeFileSync(
    config,
    [
      'listen: 127.0.0.1:0',
      'http: 127.0.0.1:0',
      'authentication:',
      '  devIssuer: true',
      'ledger:',
      '  sqliteSynchronous: full',
      'limits:',
      `  global: ${big}`,
      `  perIdentity: ${big}`,
      `  perPeer: ${big}`,
      ...more,
      '',
    ].join('\n'),
  );
  const c = start(process.execPath, [castellanCli(checkout), 'ca', 'serve', '--dir', path.join(dir, 'ca'), '--config', config], `${name}.log`, {
    ...process.env,
    CASTELLAN_LOG_LEVEL: 'info',
  });
  const port = await until(`${name} to listen`, () => /gRPC on port (\d+)/.exec(outputOf(c))?.[1]);
  return { pid: c.pid!, port: Number(port), dir };
}

// BENCH_CASTELLAN_CONFIG: more lines for this checkout's config file (`\n` between lines; e.g.
// `signingWorkers: 0`), to compare settings; not for the base checkout's.
const extraConfig = (process.env.BENCH_CASTELLAN_CONFIG ?? '').split('\\n').filter(Boolean);
/** The load generator's flags for a CA startCastellan started: its address, its roots and its dev issuer's key. */
const castellanTarget = (ca: { port: number; dir: string }) => [
  '-addr',
  `127.0.0.1:${ca.port}`,
  '-ca',
  path.join(ca.dir, 'ca', 'bundle.pem'),
  '-token-key',
  path.join(ca.dir, 'ca', 'token-issuer', 'key.pem'),
];
let castellan: { pid: number; port: number; dir: string } | undefined;
if (wanted('castellan-istio') || wanted('castellan-sign') || wanted('agents')) {
  castellan = await startCastellan('castellan', root, extraConfig);
  const common = castellanTarget(castellan);
  if (wanted('castellan-istio'))
    peers.push({
      name: 'castellan-istio',
      what: 'Castellan CreateCertificate (TLS, JWT per request)',
      pid: castellan.pid,
      node: true,
      args: ['-target', 'castellan-istio', ...common],
    });
  if (wanted('castellan-sign'))
    peers.push({ name: 'castellan-sign', what: 'Castellan Sign (TLS, JWT per request)', pid: castellan.pid, node: true, args: ['-target', 'castellan-sign', ...common] });
}
// The same CA with two signing workers, whatever `auto` makes of this machine (docs/architecture.md §4).
if (wanted('castellan-workers')) {
  const w = await startCastellan('castellan-workers', root, [...extraConfig.filter((l) => !l.startsWith('signingWorkers:')), 'signingWorkers: 2']);
  peers.push({
    name: 'castellan-workers',
    what: 'Castellan CreateCertificate, 2 signing workers',
    pid: w.pid,
    node: true,
    args: ['-target', 'castellan-istio', ...castellanTarget(w)],
  });
}
const base = process.env.BENCH_CASTELLAN_BASE;
let baseCa: { pid: number; port: number; dir: string } | undefined;
if (base) {
  if (!existsSync(path.join(base, 'dist', 'cli', 'main.js'))) skipped.push(`castellan-base: ${base} has no dist/ (run npm run build there)`);
  else {
    const b = await startCastellan('castellan-base', base);
    baseCa = b;
    peers.push({
      name: 'castellan-base',
      what: `Castellan CreateCertificate, ${path.basename(base)}`,
      pid: b.pid,
      node: true,
      args: ['-target', 'castellan-istio', ...castellanTarget(b)],
    });
  }
}

// ---- SPIRE --------------------------------------------------------------------------------------
let spire: { bin: string; dir: string; port: number; pid: number; socket: string } | undefined;
const spireWanted = wanted('spire-batch') || wanted('spire-mint') || wanted('agents');
if (spireWanted) {
  say('building SPIRE (test/spire/build.sh; once, into ~/.cache/castellan/spire) ...');
  const built = await exec('nice', ['bash', path.join(root, 'test', 'spire', 'build.sh')], { maxBuffer: 1 << 20 }).then(
    (r) => ({ bin: r.stdout.trim() }),
    (e: { stderr?: string }) => ({ skip: (e.stderr ?? String(e)).trim().split('\n').slice(-3).join(' ') }),
  );
  if ('skip' in built) skipped.push(`SPIRE: cannot build it: ${built.skip}`);
  else {
    const dir = path.join(t.dir, 'spire');
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    const port = await freePort();
    const socket = path.join(dir, 'api.sock');
    writeFileSync(
      path.join(dir, 'server.conf'),
      `server {
  bind_address = "127.0.0.1"
  bind_port = "${port}"
  socket_path = "${socket}"
  trust_domain = "cluster.local"
  data_dir = "${dir}/data"
  log_level = "WARN"
  ca_key_type = "ec-p256"
  default_x509_svid_ttl = "1h"
  # Like Castellan's limits above: a benchmark from one address is not a flood.
  ratelimit {
    attestation = false
    signing = false
  }
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "${dir}/data/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`,
    );
    const bin = built.bin;
    const c = start(path.join(bin, 'spire-server'), ['run', '-config', path.join(dir, 'server.conf')], 'spire-server.log');
    const cli = (...args: string[]) => exec(path.join(bin, 'spire-server'), [...args, '-socketPath', socket], { maxBuffer: 1 << 22 });
    await until('spire-server to be healthy', () =>
      cli('healthcheck').then(
        () => true,
        () => undefined,
      ),
    );
    writeFileSync(path.join(dir, 'bundle.pem'), (await cli('bundle', 'show')).stdout);
    spire = { bin, dir, port, pid: c.pid!, socket };
    if (wanted('spire-batch')) {
      // The load generator attests as an agent with a join token (once: it keeps the agent SVID between
      // rounds) and asks for SVIDs of entries parented by that agent, as spire-agent does.
      const token = /Token: (\S+)/.exec((await cli('token', 'generate', '-ttl', '7200')).stdout)![1]!;
      const agentId = `spiffe://cluster.local/spire/agent/join_token/${token}`;
      const entries: string[] = [];
      for (let i = 0; i < 8; i++) {
        const out = (await cli('entry', 'create', '-parentID', agentId, '-spiffeID', `spiffe://cluster.local/ns/bench/sa/sa-${i}`, '-selector', `unix:uid:${1000 + i}`)).stdout;
        entries.push(/Entry ID\s*:\s*(\S+)/.exec(out)![1]!);
      }
      peers.push({
        name: 'spire-batch',
        what: 'SPIRE 1.13.3 BatchNewX509SVID (attested agent, mTLS)',
        pid: spire.pid,
        args: [
          '-target',
          'spire-batch',
          '-addr',
          `127.0.0.1:${port}`,
          '-ca',
          path.join(dir, 'bundle.pem'),
          '-join-token',
          token,
          '-entries',
          entries.join(','),
          '-agent-cache',
          path.join(dir, 'bench-agent.pem'),
          '-warmup',
          '2',
        ],
      });
    }
    if (wanted('spire-mint')) {
      peers.push({ name: 'spire-mint', what: 'SPIRE 1.13.3 MintX509SVID (local admin socket)', pid: spire.pid, args: ['-target', 'spire-mint', '-addr', `unix://${socket}`] });
    }
  }
}

// ---- step-ca ------------------------------------------------------------------------------------
if (wanted('stepca')) {
  const got = await startStepCa().catch((e: Error) => ({ skip: e.message }));
  if ('skip' in got) skipped.push(`step-ca: ${got.skip}`);
  else peers.push(got);
}

async function startStepCa(): Promise<Peer> {
  const bin = path.join(cache, 'stepca', 'bin', 'step-ca');
  if (!existsSync(bin)) {
    // CGO off: its YubiKey support needs libpcsclite's headers, and the benchmark needs no YubiKey.
    say('building step-ca (CGO_ENABLED=0 go install github.com/smallstep/certificates/cmd/step-ca@latest; once, into ~/.cache/castellan/stepca) ...');
    const gobin = path.join(cache, 'stepca', 'bin');
    await exec('nice', ['go', 'install', 'github.com/smallstep/certificates/cmd/step-ca@latest'], {
      cwd: cache,
      env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0' },
      maxBuffer: 1 << 22,
    }).catch((e: { stderr?: string }) => {
      throw new Error(`cannot build it: ${(e.stderr ?? String(e)).trim().split('\n').slice(-2).join(' ')}`);
    });
  }
  const dir = path.join(t.dir, 'stepca');
  mkdirSync(dir, { recursive: true });
  const ossl = (...args: string[]) => exec('openssl', args, { cwd: dir });
  // Root and intermediate made with openssl; a JWK provisioner whose key the load generator signs with.
  await ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root-key.pem');
  await ossl(
    'req',
    '-x509',
    '-new',
    '-key',
    'root-key.pem',
    '-subj',
    '/CN=bench root',
    '-days',
    '30',
    '-out',
    'root.pem',
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  await ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'int-key.pem');
  await ossl('req', '-new', '-key', 'int-key.pem', '-subj', '/CN=bench intermediate', '-out', 'int.csr');
  writeFileSync(path.join(dir, 'int.ext'), 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
  await ossl('x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '30', '-extfile', 'int.ext', '-out', 'int.pem');
  await ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'prov-key.pem');
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const { calculateJwkThumbprint } = await import('jose');
  const jwk = createPublicKey(createPrivateKey(readFileSync(path.join(dir, 'prov-key.pem')))).export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint(jwk as never);
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'ca.json'),
    JSON.stringify({
      root: path.join(dir, 'root.pem'),
      crt: path.join(dir, 'int.pem'),
      key: path.join(dir, 'int-key.pem'),
      address: `127.0.0.1:${port}`,
      dnsNames: ['localhost'],
      logger: { format: 'json' },
      db: { type: 'badgerv2', dataSource: path.join(dir, 'db') },
      authority: {
        provisioners: [{ type: 'JWK', name: 'bench', key: { ...jwk, kid, use: 'sig', alg: 'ES256' }, claims: { maxTLSCertDuration: '24h', defaultTLSCertDuration: '1h' } }],
      },
      tls: { cipherSuites: ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'], minVersion: 1.2, maxVersion: 1.3 },
    }),
  );
  // `go install` stamps the module's version, not a release string: ask the binary's build info.
  const v = await exec('go', ['version', '-m', bin]).catch(() => ({ stdout: '' }));
  const version = /\bmod\s+github\.com\/smallstep\/certificates\s+(v\S+)/.exec(v.stdout)?.[1];
  const c = start(bin, [path.join(dir, 'ca.json')], 'step-ca.log');
  await until(
    'step-ca to listen',
    () =>
      /Serving HTTPS on/.test(outputOf(c))
        ? true
        : c.exitCode !== null
          ? (() => {
              throw new Error(`it exited: ${outputOf(c).slice(-300)}`);
            })()
          : undefined,
    30_000,
  );
  return {
    name: 'stepca',
    what: `step-ca${version ? ` ${version}` : ''} /1.0/sign (one-time JWK token)`,
    pid: c.pid!,
    args: ['-target', 'stepca', '-addr', `localhost:${port}`, '-ca', path.join(dir, 'root.pem'), '-step-key', path.join(dir, 'prov-key.pem'), '-step-kid', kid],
  };
}

// ---- the rounds ---------------------------------------------------------------------------------
for (const s of skipped) say(`skipped: ${s}`);
const results = new Map<string, Run[]>(peers.map((p) => [p.name, []]));
say(`${peers.length} servers, ${ROUNDS} rounds of ${SECONDS}s each, interleaved; ${CONCURRENCY} callers; ${new Date().toISOString()}`);
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so that no server always runs first (or after the same neighbour).
  const order = peers.map((_, i) => peers[(i + round) % peers.length]!);
  for (const p of order) {
    const out = await exec(loadgen, [...p.args, '-pid', String(p.pid), '-seconds', String(SECONDS), '-concurrency', String(CONCURRENCY)], { maxBuffer: 1 << 22 }).catch(
      (e: { stderr?: string; stdout?: string }) => ({ stdout: '', stderr: e.stderr ?? String(e) }),
    );
    if (!out.stdout) {
      say(`  round ${round + 1} ${p.name}: load generator failed: ${out.stderr.trim().slice(-400)}`);
      continue;
    }
    const r = JSON.parse(out.stdout) as Run;
    results.get(p.name)!.push(r);
    const fails = Object.values(r.failures).reduce((a, b) => a + b, 0);
    say(
      `  round ${round + 1} ${p.name.padEnd(16)} ${(r.ok / r.elapsed).toFixed(0).padStart(6)}/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  CPU ${((r.cpuSeconds / r.ok) * 1e6).toFixed(0)} us/cert${p.node ? ` (main thread ${((r.mainThreadCpuSeconds / r.ok) * 1e6).toFixed(0)})` : ''}, client ${((r.clientCpuSeconds / r.ok) * 1e6).toFixed(0)} us/cert${fails ? `  failed ${JSON.stringify(r.failures)}` : ''}`,
    );
  }
}

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};
const rate = (r: Run) => r.ok / r.elapsed;
const rateOf = (name: string) => median((results.get(name) ?? []).map(rate));
const reference = rateOf('castellan-istio');
say('');
say(
  `${'server / API'.padEnd(56)} ${'certs/s'.padStart(8)} ${'ratio'.padStart(6)}  ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU us/cert'.padStart(11)} ${'main thread'.padStart(11)} ${'disk KB/cert'.padStart(12)} ${'client us'.padStart(9)}  runs (certs/s)`,
);
for (const p of peers) {
  const rs = results.get(p.name)!;
  if (rs.length === 0) continue;
  const r = rateOf(p.name);
  say(
    `${p.what.padEnd(56)} ${r.toFixed(0).padStart(8)} ${(r / reference).toFixed(2).padStart(6)}  ${median(rs.map((x) => x.p50))
      .toFixed(1)
      .padStart(7)} ${median(rs.map((x) => x.p99))
      .toFixed(1)
      .padStart(7)} ` +
      `${median(rs.map((x) => (x.cpuSeconds / x.ok) * 1e6))
        .toFixed(0)
        .padStart(11)} ${(p.node ? median(rs.map((x) => (x.mainThreadCpuSeconds / x.ok) * 1e6)).toFixed(0) : '-').padStart(11)} ${median(rs.map((x) => x.writeBytes / x.ok / 1024))
        .toFixed(1)
        .padStart(12)} ${median(rs.map((x) => (x.clientCpuSeconds / x.ok) * 1e6))
        .toFixed(0)
        .padStart(9)}  ${rs.map((x) => rate(x).toFixed(0)).join(', ')}` +
      (rs.some((x) => x.reused > 0) ? '  (some requests reused: raise -pool)' : ''),
  );
}
say(
  "ratio: certs/s over Castellan CreateCertificate; CPU and disk writes: the server process and its descendants, all threads, per certificate; main thread: its first thread alone (Node: the event loop); client us: the load generator's own CPU per certificate; medians of rounds",
);
const ratio = (name: string) => reference / rateOf(name);
if (results.get('spire-batch')?.length) say(`Castellan CreateCertificate / SPIRE BatchNewX509SVID = ${ratio('spire-batch').toFixed(2)}  (target >= 1.5)`);
if (results.get('spire-mint')?.length) say(`Castellan CreateCertificate / SPIRE MintX509SVID     = ${ratio('spire-mint').toFixed(2)}  (target >= 1.0)`);
if (results.get('castellan-istio')?.length) {
  const cpu = median(results.get('castellan-istio')!.map((x) => (x.cpuSeconds / x.ok) * 1e6));
  say(`Castellan CA CPU per certificate (CreateCertificate) = ${cpu.toFixed(0)} us  (target <= 500)`);
}
// What the Castellan CAs hold after their rounds (signing workers add theirs: docs/configuration.md).
for (const pid of new Set(peers.filter((p) => p.node).map((p) => p.pid))) {
  if (existsSync(`/proc/${pid}/status`)) say(`Castellan CA (pid ${pid}) RSS after its rounds: ${rssMiB(pid).toFixed(1)} MiB`);
}

// ---- agents: idle memory ------------------------------------------------------------------------
if (wanted('agents') && castellan) {
  say('');
  const lines: string[] = [];
  // A Castellan agent in sidecar mode holding one workload SVID (and the base checkout's, to compare).
  const startAgent = async (name: string, checkout: string, ca: { port: number; dir: string }) => {
    const tokenFile = path.join(t.dir, `${name}.token`);
    await exec(process.execPath, [
      castellanCli(checkout),
      'token',
      'mint',
      '--dir',
      path.join(ca.dir, 'ca'),
      '--namespace',
      'bench',
      '--service-account',
      'web',
      '--out',
      tokenFile,
    ]);
    const socket = path.join(t.dir, `${name}.sock`);
    const c = start(
      process.execPath,
      [
        castellanCli(checkout),
        'agent',
        '--ca-addr',
        `127.0.0.1:${ca.port}`,
        '--ca-bundle',
        path.join(ca.dir, 'ca', 'bundle.pem'),
        '--token-file',
        tokenFile,
        '--socket',
        socket,
        '--http',
        '127.0.0.1:0',
      ],
      `${name}.log`,
      { ...process.env, CASTELLAN_LOG_LEVEL: 'warn' },
    );
    return { c, socket };
  };
  const agent = await startAgent('castellan-agent', root, castellan);
  const baseAgent = base && baseCa ? await startAgent('castellan-base-agent', base, baseCa) : undefined;
  let spireAgent: ChildProcess | undefined;
  if (spire) {
    const cli = (...args: string[]) => exec(path.join(spire!.bin, 'spire-server'), [...args, '-socketPath', spire!.socket], { maxBuffer: 1 << 22 });
    const token = /Token: (\S+)/.exec((await cli('token', 'generate', '-ttl', '600')).stdout)![1]!;
    await cli(
      'entry',
      'create',
      '-parentID',
      `spiffe://cluster.local/spire/agent/join_token/${token}`,
      '-spiffeID',
      'spiffe://cluster.local/ns/bench/sa/web',
      '-selector',
      `unix:uid:${process.getuid?.() ?? 0}`,
    );
    const adir = path.join(t.dir, 'spire-agent');
    mkdirSync(adir, { recursive: true });
    writeFileSync(
      path.join(adir, 'agent.conf'),
      `agent {
  data_dir = "${adir}"
  log_level = "WARN"
  server_address = "127.0.0.1"
  server_port = "${spire.port}"
  socket_path = "${adir}/agent.sock"
  trust_bundle_path = "${spire.dir}/bundle.pem"
  trust_domain = "cluster.local"
  join_token = "${token}"
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`,
    );
    spireAgent = start(path.join(spire.bin, 'spire-agent'), ['run', '-config', path.join(adir, 'agent.conf')], 'spire-agent.log');
    await until('spire-agent to serve the workload SVID', () =>
      exec(path.join(spire!.bin, 'spire-agent'), ['api', 'fetch', 'x509', '-socketPath', path.join(adir, 'agent.sock')]).then(
        (r) => (/ns\/bench\/sa\/web/.test(r.stdout) ? true : undefined),
        () => undefined,
      ),
    );
  } else lines.push('spire-agent: skipped (no SPIRE)');
  for (const a of [agent, baseAgent]) {
    if (!a) continue;
    await until('the Castellan agent to serve', () => (existsSync(a.socket) ? true : undefined));
    // Served once, as the spire-agent's SVID was fetched above: an Envoy's SDS stream gets it and goes.
    const sds = new SdsClient({ socketPath: a.socket });
    await sds.ready();
    sds.close();
  }
  // Idle: all settled for a while with their SVID in memory.
  await wait(15_000);
  lines.push(`Castellan agent (sidecar mode, one SVID) idle RSS ${rssMiB(agent.c.pid!).toFixed(1)} MiB`);
  if (baseAgent) lines.push(`Castellan agent, ${path.basename(base!)} (same)    idle RSS ${rssMiB(baseAgent.c.pid!).toFixed(1)} MiB`);
  if (spireAgent) lines.push(`spire-agent 1.13.3 (one workload SVID)     idle RSS ${rssMiB(spireAgent.pid!).toFixed(1)} MiB   (target: Castellan <= spire-agent)`);
  for (const l of lines) say(l);
}

// ---- `castellan --version` ----------------------------------------------------------------------
if (wanted('agents') || !ONLY) {
  for (const [label, checkout] of [['castellan', root], ...(base ? [[path.basename(base), base]] : [])] as [string, string][]) {
    const cpus: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await exec('/usr/bin/time', ['-f', '%U %S', process.execPath, castellanCli(checkout), '--version']).catch(() => undefined);
      const m = r && /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
      if (m) cpus.push(Number(m[1]) + Number(m[2]));
    }
    if (cpus.length) say(`${label} --version: ${median(cpus).toFixed(2)} s CPU (median of ${cpus.length}; target < 0.2 s)`);
  }
}

stopAll();
await wait(500);
t.cleanup();

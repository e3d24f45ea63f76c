// npm run bench:ca — end-to-end Istio CreateCertificate throughput of one CA process over loopback,
// with JWKS token authentication (the CA's local issuer: every request verifies a JWT), 32 concurrent
// callers in a separate process, as a ratio of the crypto ceiling measured in this same run.
//
// The load generator shares the machine's two cores with the CA, so its own cost per call lowers the
// figure. It is the istio.io/api Go client (test/interop/istio-client, grpc-go: the cheapest caller
// here) when `go` is installed, else a grpc-js client (bench/ca-load-client.ts), which costs the CA
// about half of its throughput; the output says which one ran.
//
// It also prints the throughput with the issuance ledger on (SQLite, synchronous FULL and NORMAL) as a
// ratio of the same load with the ledger off (`ledger.enabled: false`, target >= 0.90), the same with
// two signing workers (`signingWorkers: 2`; the others run without), and the CA's CPU per request in
// each configuration (steadier than throughput on a shared machine).
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { initCa, loadDevTokenIssuer, openLedgerStore, startCaServer, type CaServerConfig } from '../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../workload-identity/index.js';
import { testCsr } from '../test/helpers/csr.js';
import { tempDir } from '../test/helpers/test-ca.js';
import { cryptoCeiling, fmt } from './crypto-ceiling.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const POOL = Number(process.env.BENCH_POOL ?? 3000);

const { signRate, verifyRate, ceiling } = cryptoCeiling(2);

const t = tempDir('castellan-bench-');
const dir = path.join(t.dir, 'ca');
const ca = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
const dev = await loadDevTokenIssuer(dir);
process.stdout.write(`building ${POOL} distinct CSRs and tokens (${POOL} service accounts) ...\n`);
const requests: { csr: string; token: string }[] = [];
for (let i = 0; i < POOL; i++) {
  const sa = `sa-${i}`;
  const token = await mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['castellan'], namespace: 'bench', serviceAccount: sa, ttlSeconds: 3600 });
  requests.push({ csr: (await testCsr({ uris: [`spiffe://cluster.local/ns/bench/sa/${sa}`] })).pem, token });
}

const here = path.dirname(new URL(import.meta.url).pathname);
const goClient = path.join(t.dir, 'istio-client');
const haveGo = await promisify(execFile)('go', ['build', '-o', goClient, '.'], { cwd: path.join(here, '..', 'test', 'interop', 'istio-client') }).then(
  () => true,
  () => false,
);
writeFileSync(path.join(t.dir, 'pool.json'), JSON.stringify(requests));
writeFileSync(path.join(t.dir, 'bundle.pem'), ca.bundle.map((c) => c.pem).join(''));

interface RunResult {
  ok: number;
  failures: Record<string, number>;
  elapsed: number;
  p50: number;
  p99: number;
  cpu: NodeJS.CpuUsage;
}

/** One load run against a fresh CA server with this ledger configuration. */
async function runOnce(label: string, ledger: CaServerConfig['ledger'], signingWorkers: CaServerConfig['signingWorkers'] = 0): Promise<RunResult> {
  // Production logging (one JSON line per issuance) into a file, as a CA would write to its log pipe.
  const log = pino({ level: 'info' }, pino.destination({ dest: path.join(t.dir, `ca-${label}.log`), sync: false }));
  const { server } = await startCaServer({
    dir,
    config: {
      listen: '127.0.0.1:0',
      http: '127.0.0.1:0',
      limits: { global: { ratePerSecond: 1e6, burst: 1e6 }, perIdentity: { ratePerSecond: 1e6, burst: 1e6 }, perPeer: { ratePerSecond: 1e6, burst: 1e6 } },
      ...(ledger ? { ledger } : {}),
      signingWorkers,
    },
    devIssuer: true,
    log,
  });
  const workFile = path.join(t.dir, 'work.json');
  writeFileSync(
    workFile,
    JSON.stringify({ address: `127.0.0.1:${server.grpcPort}`, bundlePem: ca.bundle.map((c) => c.pem).join(''), concurrency: CONCURRENCY, seconds: SECONDS, requests }),
  );
  // BENCH_PROFILE=file.cpuprofile: a V8 CPU profile of the CA process during the (last) load.
  const profiler = process.env.BENCH_PROFILE ? new (await import('node:inspector/promises')).Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const cpuBefore = process.cpuUsage();
  const out = haveGo
    ? await promisify(execFile)(
        goClient,
        [
          '-addr',
          `127.0.0.1:${server.grpcPort}`,
          '-root',
          path.join(t.dir, 'bundle.pem'),
          '-load',
          path.join(t.dir, 'pool.json'),
          '-concurrency',
          String(CONCURRENCY),
          '-seconds',
          String(SECONDS),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      )
    : await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(here, 'ca-load-client.ts'), workFile], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const cpu = process.cpuUsage(cpuBefore);
  if (profiler) writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
  await server.shutdown(2000);
  return { ...(JSON.parse(out.stdout) as Omit<RunResult, 'cpu'>), cpu };
}

// The ledger's cost as a ratio to the same run without it. Off, FULL and NORMAL runs alternate for
// BENCH_LEDGER_ROUNDS rounds (default 3) and each configuration reports its median: on a shared
// two-core machine single runs drift by 10-20 %, alternating spreads that drift over all three.
const ROUNDS = Number(process.env.BENCH_LEDGER_ROUNDS ?? 3);
const runs: Record<'off' | 'full' | 'normal' | 'workers', RunResult[]> = { off: [], full: [], normal: [], workers: [] };
// The first three without signing workers (the libuv pool signs; `auto` on two cores), the fourth as
// the first but for two signing workers (docs/architecture.md §4).
// The first run of a process is always the slowest (JIT, first connections): run one and discard it.
const warmup = await runOnce('warmup', { enabled: false });
for (let round = 0; round < ROUNDS; round++) {
  runs.off.push(await runOnce(`off-${round}`, { enabled: false }));
  runs.full.push(await runOnce(`full-${round}`, { sqliteSynchronous: 'full' }));
  runs.normal.push(await runOnce(`normal-${round}`, { sqliteSynchronous: 'normal' }));
  runs.workers.push(await runOnce(`workers-${round}`, { sqliteSynchronous: 'full' }, 2));
}
void warmup;
// The ceiling lines below report the median ledger-off run.
const off1 = [...runs.off].sort((a, b) => a.ok / a.elapsed - b.ok / b.elapsed)[Math.floor(runs.off.length / 2)]!;
const records = await (async () => {
  const store = await openLedgerStore({ dir, readOnly: true });
  try {
    return (await store.query({ limit: 1 }))[0]?.seq ?? 0;
  } finally {
    await store.close();
  }
})();
const r = off1;
const cpu = off1.cpu;
const rps = r.ok / r.elapsed;
console.log(
  `node ${process.version}; CA: one process; load: ${CONCURRENCY} callers (own connections), ${haveGo ? 'istio.io/api Go client' : 'grpc-js client (no go installed)'}, another process; ${SECONDS}s`,
);
console.log(`raw ECDSA P-256 sign/s              ${fmt(signRate)}`);
console.log(`raw ECDSA P-256 verify/s            ${fmt(verifyRate)}`);
console.log(`crypto ceiling 1/(1/s+1/v)/s        ${fmt(ceiling)}`);
console.log(`CreateCertificate/s (JWKS auth)     ${fmt(rps)}   ratio to ceiling ${(rps / ceiling).toFixed(2)} (target >= 0.30)`);
console.log(`latency p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; ok ${r.ok}, failed ${JSON.stringify(r.failures)}`);
console.log(
  `CA CPU per request (all its threads): ${((cpu.user + cpu.system) / r.ok).toFixed(0)} us (user ${(cpu.user / r.ok).toFixed(0)}, system ${(cpu.system / r.ok).toFixed(0)})`,
);
const rate = (x: RunResult) => x.ok / x.elapsed;
const median = (xs: number[]) => {
  const v = [...xs].sort((p, q) => p - q);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};
const cpuPer = (x: RunResult) => (x.cpu.user + x.cpu.system) / x.ok;
const baseline = median(runs.off.map(rate));
const line = (name: string, xs: RunResult[]) =>
  `${name.padEnd(42)} ${fmt(median(xs.map(rate)))}/s  ratio to ledger off ${(median(xs.map(rate)) / baseline).toFixed(2)}; ` +
  `runs ${xs.map((x) => fmt(rate(x)).trim()).join(', ')}; CA CPU ${median(xs.map(cpuPer)).toFixed(0)} us/request; ` +
  `p50 ${median(xs.map((x) => x.p50)).toFixed(1)} ms, p99 ${median(xs.map((x) => x.p99)).toFixed(1)} ms; failed ${xs.reduce((n, x) => n + Object.values(x.failures).reduce((a, b) => a + b, 0), 0)}`;
console.log(line('ledger off (ledger.enabled: false)', runs.off));
console.log(`${line('ledger on, SQLite WAL synchronous=FULL', runs.full)}   (target >= 0.90)`);
console.log(line('ledger on, SQLite WAL synchronous=NORMAL', runs.normal));
console.log(line('FULL, with 2 signing workers', runs.workers));
console.log(`records in the ledger after all runs: ${records} (group commit; FULL writes in a worker thread, NORMAL inline)`);
t.cleanup();

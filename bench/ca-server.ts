// npm run bench:ca — end-to-end Istio CreateCertificate throughput of one CA process over loopback,
// with JWKS token authentication (the CA's local issuer: every request verifies a JWT), 32 concurrent
// callers in a separate process, as a ratio of the crypto ceiling measured in this same run.
//
// The load generator shares the machine's two cores with the CA, so its own cost per call lowers the
// figure. It is the istio.io/api Go client (test/interop/istio-client, grpc-go: the cheapest caller
// here) when `go` is installed, else a grpc-js client (bench/ca-load-client.ts), which costs the CA
// about half of its throughput; the output says which one ran.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { initCa, loadDevTokenIssuer, startCaServer } from '../ca/index.js';
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

// Production logging (one JSON line per issuance) into a file, as a CA would write to its log pipe.
const log = pino({ level: 'info' }, pino.destination({ dest: path.join(t.dir, 'ca.log'), sync: false }));
const { server } = await startCaServer({
  dir,
  config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', limits: { global: { ratePerSecond: 1e6, burst: 1e6 }, perIdentity: { ratePerSecond: 1e6, burst: 1e6 } } },
  devIssuer: true,
  log,
});
const workFile = path.join(t.dir, 'work.json');
writeFileSync(workFile, JSON.stringify({ address: `127.0.0.1:${server.grpcPort}`, bundlePem: ca.bundle.map((c) => c.pem).join(''), concurrency: CONCURRENCY, seconds: SECONDS, requests }));
const here = path.dirname(new URL(import.meta.url).pathname);
const goClient = path.join(t.dir, 'istio-client');
const haveGo = (await promisify(execFile)('go', ['build', '-o', goClient, '.'], { cwd: path.join(here, '..', 'test', 'interop', 'istio-client') }).then(() => true, () => false));
writeFileSync(path.join(t.dir, 'pool.json'), JSON.stringify(requests));
writeFileSync(path.join(t.dir, 'bundle.pem'), ca.bundle.map((c) => c.pem).join(''));
// BENCH_PROFILE=file.cpuprofile: a V8 CPU profile of the CA process during the load.
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
      ['-addr', `127.0.0.1:${server.grpcPort}`, '-root', path.join(t.dir, 'bundle.pem'), '-load', path.join(t.dir, 'pool.json'), '-concurrency', String(CONCURRENCY), '-seconds', String(SECONDS)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    )
  : await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(here, 'ca-load-client.ts'), workFile], { encoding: 'utf8', maxBuffer: 1 << 20 });
const cpu = process.cpuUsage(cpuBefore);
if (profiler) writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
const r = JSON.parse(out.stdout) as { ok: number; failures: Record<string, number>; elapsed: number; p50: number; p99: number };
await server.shutdown(2000);
t.cleanup();

const rps = r.ok / r.elapsed;
console.log(`node ${process.version}; CA: one process; load: ${CONCURRENCY} callers (own connections), ${haveGo ? 'istio.io/api Go client' : 'grpc-js client (no go installed)'}, another process; ${SECONDS}s`);
console.log(`raw ECDSA P-256 sign/s              ${fmt(signRate)}`);
console.log(`raw ECDSA P-256 verify/s            ${fmt(verifyRate)}`);
console.log(`crypto ceiling 1/(1/s+1/v)/s        ${fmt(ceiling)}`);
console.log(`CreateCertificate/s (JWKS auth)     ${fmt(rps)}   ratio to ceiling ${(rps / ceiling).toFixed(2)} (issue #3 target >= 0.30)`);
console.log(`latency p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; ok ${r.ok}, failed ${JSON.stringify(r.failures)}`);
console.log(`CA CPU per request (all its threads): ${((cpu.user + cpu.system) / r.ok).toFixed(0)} us (user ${(cpu.user / r.ok).toFixed(0)}, system ${(cpu.system / r.ok).toFixed(0)})`);

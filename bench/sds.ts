// npm run bench:sds — the agent's workload socket under many SotW streams (docs/architecture.md §5, and its targets):
// time to first secret for a new stream (cached secret), RSS per open stream at 1,000 and 10,000
// streams, and the time to push one rotation to all of them. The clients (bench/sds-load-client.ts)
// run in a child process so the RSS figures are the agent's alone; they multiplex 100 streams per
// connection (BENCH_STREAMS_PER_CONNECTION) and ACK every response as Envoy does, except that during a
// push measurement the ACKs are sent once every stream has the new secret (so the figure is delivery to
// all streams, not delivery interleaved with the agent's ACK handling).
import 'reflect-metadata';
import { fork } from 'node:child_process';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { startWorkloadSocket } from '../sds/index.js';
import { StaticSecretProvider } from '../test/helpers/static-secret-provider.js';
import { tempDir } from '../test/helpers/test-ca.js';

setFlagsFromString('--expose-gc');
// The agent's V8 flags (cli/agent-v8.ts sets them for `castellan agent`), for the server in this process only:
// CASTELLAN_AGENT_V8_FLAGS='--semi-space-growth-factor=1 --no-turbofan --no-sparkplug' measures a sidecar's.
if (process.env.CASTELLAN_AGENT_V8_FLAGS) setFlagsFromString(process.env.CASTELLAN_AGENT_V8_FLAGS);
const gc = runInNewContext('gc') as () => void;

const TTFS_SAMPLES = Number(process.env.BENCH_TTFS_SAMPLES ?? 2000);
const TARGETS = { ttfsP99Ms: 5, bytesPerStream: 20 * 1024, pushMs: 1000 };

const t = tempDir('castellan-bench-sds-');
const provider = await StaticSecretProvider.create();
const log = pino({ level: 'warn' }, pino.destination({ dest: path.join(t.dir, 'agent.log'), sync: false }));
const socket = await startWorkloadSocket({ socketPath: path.join(t.dir, 'sds.sock'), provider, log });

const here = path.dirname(new URL(import.meta.url).pathname);
const child = fork(path.join(here, 'sds-load-client.ts'), [socket.socketPath], { execArgv: ['--import', 'tsx'] });
const inbox: { type: string; [k: string]: unknown }[] = [];
const waiters: ((m: { type: string; [k: string]: unknown }) => void)[] = [];
child.on('exit', (code) => {
  if (code !== 0) {
    console.error(`bench: the client process failed (exit ${code})`);
    process.exit(1);
  }
});
child.on('message', (m: { type: string }) => {
  const w = waiters.shift();
  if (w) w(m);
  else inbox.push(m);
});
const next = () => new Promise<{ type: string; [k: string]: unknown }>((r) => (inbox.length ? r(inbox.shift()!) : waiters.push(r)));
const ask = async (msg: object, want: string) => {
  child.send(msg);
  const m = await next();
  if (m.type !== want) throw new Error(`bench: expected ${want}, got ${m.type}`);
  return m;
};

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  return process.memoryUsage().rss;
};
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const verdict = (ok: boolean) => (ok ? 'meets target' : 'MISSES target');
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

await next(); // ready
console.log(`castellan SDS bench: node ${process.version}, ${TTFS_SAMPLES} first-secret samples`);

// Warm-up (JIT, encoded secrets cached), then time to first secret.
await ask({ type: 'ttfs', count: 200 }, 'ttfs');
const ttfs = ((await ask({ type: 'ttfs', count: TTFS_SAMPLES }, 'ttfs'))['times'] as number[]).sort((a, b) => a - b);
const p50 = pct(ttfs, 50);
const p99 = pct(ttfs, 99);
console.log(
  `time to first secret (new stream)   p50 ${p50.toFixed(2)} ms   p99 ${p99.toFixed(2)} ms   target p99 <= ${TARGETS.ttfsP99Ms} ms: ${verdict(p99 <= TARGETS.ttfsP99Ms)}`,
);

// The agent's own share of it: its histogram from first request to first response.
const hist = (await socket.metrics.firstSecretSeconds.get()).values
  .map((v) => ({ name: v.metricName ?? '', labels: v.labels as Record<string, string | number>, value: v.value }))
  .filter((v) => v.name.endsWith('_bucket') && v.labels['api'] === 'sds_sotw');
const countAll = hist.find((v) => v.labels['le'] === '+Inf')?.value ?? 0;
const serverP99 = hist.find((v) => v.labels['le'] !== '+Inf' && v.value >= 0.99 * countAll)?.labels['le'];
console.log(`  of which in the agent (request decoded → response written): p99 <= ${Number(serverP99) * 1000} ms (histogram bucket)`);

const baseline = await settle();
for (const count of [1000, 10_000]) {
  const opened = performance.now();
  await ask({ type: 'open', count }, 'opened');
  const openMs = performance.now() - opened;
  const rss = await settle();
  const per = (rss - baseline) / count;
  console.log(
    `${String(count).padStart(6)} open streams: RSS ${(rss / 1048576).toFixed(0)} MiB (+${((rss - baseline) / 1048576).toFixed(1)} MiB)   ${kib(per)} per stream   target <= ${kib(TARGETS.bytesPerStream)}: ${verdict(per <= TARGETS.bytesPerStream)}   (opened in ${openMs.toFixed(0)} ms)`,
  );
  // The new leaf is issued first (the agent has it before it notifies); the clock starts at the change.
  const publish = await provider.stageRotation();
  await ask({ type: 'arm' }, 'armed');
  const t0 = performance.now();
  publish();
  const written = performance.now();
  const pushed = await next();
  if (pushed.type !== 'pushed') throw new Error(`bench: expected pushed, got ${pushed.type}`);
  const total = performance.now() - t0;
  await ask({ type: 'ack' }, 'acked');
  console.log(
    `${String(count).padStart(6)} streams: rotation delivered to all in ${total.toFixed(0)} ms (encoding + writing on the agent ${(written - t0).toFixed(0)} ms of it)   target <= ${TARGETS.pushMs} ms: ${verdict(total <= TARGETS.pushMs)}`,
  );
}

child.send({ type: 'exit' });
await new Promise((r) => child.once('exit', r));
await socket.close();
provider.cleanup();
t.cleanup();

// The load generator of bench/ca-server.ts, in a process of its own so it does not share the CA's
// event loop: `concurrency` callers, each on its own connection (as agents are), calling Istio's
// CreateCertificate back to back for `seconds`, over a pool of distinct CSRs and tokens.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { caProtos } from '../ca/server/protos.js';

interface Work {
  address: string;
  bundlePem: string;
  concurrency: number;
  seconds: number;
  requests: { csr: string; token: string }[];
}

const work = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Work;
const Istio = caProtos().istio;
const clients = Array.from(
  { length: work.concurrency },
  () =>
    new Istio(work.address, credentials.createSsl(Buffer.from(work.bundlePem)), {
      'grpc.ssl_target_name_override': 'localhost',
      'grpc.default_authority': 'localhost',
      'grpc.use_local_subchannel_pool': 1,
    }),
);

function call(client: InstanceType<typeof Istio>, r: { csr: string; token: string }): Promise<number> {
  const md = new Metadata();
  md.set('authorization', `Bearer ${r.token}`);
  return new Promise((resolve) =>
    (client as unknown as { CreateCertificate(q: object, m: Metadata, cb: (e: ServiceError | null) => void): void }).CreateCertificate(
      { csr: r.csr, validityDuration: 3600 },
      md,
      (err) => resolve(err ? err.code : 0),
    ),
  );
}

let next = 0;
const take = () => work.requests[next++ % work.requests.length]!;
// Connect and warm up every connection before the clock starts.
await Promise.all(
  clients.map(async (c) => {
    for (let i = 0; i < 5; i++) await call(c, take());
  }),
);

const latencies: number[] = [];
const failures = new Map<number, number>();
const end = performance.now() + work.seconds * 1000;
const start = performance.now();
await Promise.all(
  clients.map(async (c) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const code = await call(c, take());
      if (code === 0) latencies.push(performance.now() - t0);
      else failures.set(code, (failures.get(code) ?? 0) + 1);
    }
  }),
);
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
process.stdout.write(`${JSON.stringify({ ok: latencies.length, failures: Object.fromEntries(failures), elapsed, p50: pct(50), p99: pct(99) })}\n`);
for (const c of clients) c.close();

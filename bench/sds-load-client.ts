// The client side of `npm run bench:sds`, in its own process so the agent's RSS is measured alone.
// Driven over IPC by bench/sds.ts: opens SotW streams like Envoy (request default + ROOTCA, ACK every
// response), measures time to first secret, and reports when a push reached every stream.
import { credentials, makeGenericClientConstructor, type ClientDuplexStream, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { agentProtos, SDS_SERVICE, SECRET_TYPE_URL } from '../sds/index.js';

const socketPath = process.argv[2]!;
const STREAMS_PER_CONNECTION = Number(process.env.BENCH_STREAMS_PER_CONNECTION ?? 100);

/** Reads only version_info (1) and nonce (5) of a DiscoveryResponse: the client must stay cheap. */
function versionAndNonce(buf: Buffer): { version: string; nonce: string } {
  let off = 0;
  let version = '';
  let nonce = '';
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[off++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (off < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) {
      varint();
      continue;
    }
    const len = varint();
    if (tag >> 3 === 1) version = buf.toString('utf8', off, off + len);
    if (tag >> 3 === 5) nonce = buf.toString('utf8', off, off + len);
    off += len;
  }
  return { version, nonce };
}

const def = agentProtos().sds[SDS_SERVICE] as Record<string, MethodDefinition<unknown, unknown>>;
const service: ServiceDefinition = {
  StreamSecrets: { ...def['StreamSecrets']!, responseDeserialize: (b: Buffer) => versionAndNonce(b) },
};
const Client = makeGenericClientConstructor(service, 'SDS');
const clients: InstanceType<typeof Client>[] = [];
function clientFor(i: number) {
  const c = Math.floor(i / STREAMS_PER_CONNECTION);
  // A distinct channel option per client keeps grpc-js from sharing one connection between them.
  clients[c] ??= new Client(`unix:${socketPath}`, credentials.createInsecure(), { 'bench.connection': c });
  return clients[c]!;
}

type Stream = ClientDuplexStream<unknown, { version: string; nonce: string }>;
const NAMES = ['default', 'ROOTCA'];
const node = { id: 'bench' };

interface Open {
  stream: Stream;
  last: string;
}
const open: Open[] = [];
let armed: { since: number; need: number; got: number } | undefined;
const deferredAcks: (() => void)[] = [];

function openStream(i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = (clientFor(i) as unknown as { StreamSecrets(): Stream }).StreamSecrets();
    const entry: Open = { stream, last: '' };
    const t0 = performance.now();
    let first = true;
    stream.on('data', (res) => {
      entry.last = res.version;
      const ack = () => stream.write({ node, typeUrl: SECRET_TYPE_URL, resourceNames: NAMES, versionInfo: res.version, responseNonce: res.nonce });
      if (armed) deferredAcks.push(ack);
      else ack();
      if (first) {
        first = false;
        resolve(performance.now() - t0);
      } else if (armed) {
        armed.got += 1;
        if (armed.got === armed.need) {
          process.send!({ type: 'pushed', clientMs: performance.now() - armed.since });
          armed = undefined;
        }
      }
    });
    stream.on('error', (err) => (first ? reject(err) : undefined));
    stream.write({ node, typeUrl: SECRET_TYPE_URL, resourceNames: NAMES });
    open.push(entry);
  });
}

process.on('message', async (msg: { type: string; count?: number }) => {
  if (msg.type === 'ttfs') {
    // New streams one after another on a warm connection; each closed after its first secret.
    const times: number[] = [];
    for (let i = 0; i < msg.count!; i++) {
      times.push(await openStream(0));
      // Half-close, as a workload going away does; cancelling thousands of streams in a burst would look
      // like an HTTP/2 rapid-reset attack, which Node's server answers by closing the session.
      const { stream } = open.pop()!;
      await new Promise((r) => {
        stream.on('status', r);
        stream.end();
      });
    }
    process.send!({ type: 'ttfs', times });
  } else if (msg.type === 'open') {
    const batch: Promise<number>[] = [];
    for (let i = open.length; i < msg.count!; i++) {
      batch.push(openStream(i));
      // Bounded bursts: a real fleet does not open 10,000 streams in the same millisecond.
      if (batch.length === 500) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    process.send!({ type: 'opened', count: open.length });
  } else if (msg.type === 'arm') {
    armed = { since: performance.now(), need: open.length, got: 0 };
    process.send!({ type: 'armed' });
  } else if (msg.type === 'ack') {
    for (const ack of deferredAcks.splice(0)) ack();
    process.send!({ type: 'acked' });
  } else if (msg.type === 'exit') {
    for (const o of open) o.stream.end();
    for (const c of clients) c?.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready' });

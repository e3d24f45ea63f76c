import { createPrivateKey, X509Certificate } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { Metadata, status, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_NAME_BYTES, SDS_SERVICE, SECRET_TYPE_URL, WORKLOAD_API_SERVICE } from '../../sds/index.js';
import type { DecodedSecret } from '../helpers/envoy-sds-client.js';
import { fuzzParams, reachesCiCount } from '../helpers/fuzz.js';
import { until } from '../helpers/until.js';
import { testWorkloadSocket } from '../helpers/workload-socket.js';

/**
 * Fuzzing of the workload socket (sds/workload-socket.ts and the SDS / Workload API handlers) over a
 * real Unix socket in node mode, where each call proves its identity with a bearer token
 * (docs/fuzzing.md): random DiscoveryRequest sequences on every method, rotations in between, and raw
 * gRPC frames of random bytes. Properties: every call ends with a status the method may return (or, for
 * a server stream, keeps streaming), the agent keeps serving other clients, and no call ever receives
 * the private key of an identity other than one whose token it presented.
 */

const TOKENS: Record<string, string> = { 'tok-a': '/ns/a/sa/a', 'tok-b': '/ns/b/sa/b' };
const TD = 'spiffe://cluster.local';
const STREAM_STATUSES = [status.OK, status.INVALID_ARGUMENT, status.UNAUTHENTICATED];
const FETCH_STATUSES = [status.OK, status.NOT_FOUND, status.INVALID_ARGUMENT, status.UNAUTHENTICATED];
const WORKLOAD_STATUSES = [status.CANCELLED, status.INVALID_ARGUMENT, status.UNAUTHENTICATED];

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;
interface CallStatus {
  code: number;
  details: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with `p`, or rejects naming `what` after `ms` (a hang). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${what} after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

// ---- generators ----

const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('default', 'ROOTCA', 'ALL', '*', TD, 'spiffe://other.org', 'spiffe://cluster.local/ns/b/sa/b', '', 'DEFAULT', 'default ', 'ns/b/sa/b') },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(MAX_NAME_BYTES), 'x'.repeat(MAX_NAME_BYTES + 1), 'é'.repeat(513)) },
);
const names = fc.oneof(
  { weight: 8, arbitrary: fc.array(name, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 70 }).map((n) => Array.from({ length: n }, (_, i) => `n${i}`)) },
);
const typeUrl = fc.constantFrom(SECRET_TYPE_URL, SECRET_TYPE_URL, SECRET_TYPE_URL, '', 'type.googleapis.com/envoy.config.cluster.v3.Cluster', `${SECRET_TYPE_URL} `, 'x');
const nonce = fc.oneof(fc.constant('last' as const), fc.constant(''), fc.string({ maxLength: 10 }));
const errorDetail = fc.option(fc.record({ code: fc.integer({ min: -1, max: 20 }), message: fc.string({ maxLength: 50 }) }), { nil: undefined, freq: 3 });
const node = fc.option(fc.record({ id: fc.string({ maxLength: 20 }), cluster: fc.string({ maxLength: 10 }) }), { nil: undefined });

const sotwRequest = fc.record({ names, typeUrl, nonce, errorDetail, node, version: fc.string({ maxLength: 8 }) });
const deltaRequest = fc.record({
  subscribe: names,
  unsubscribe: fc.array(name, { maxLength: 3 }),
  initial: fc.dictionary(name, fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  typeUrl,
  nonce,
  errorDetail,
  node,
});
/**
 * Who the call says it is: bearer metadata in the spellings clients use, and wrong ones. (Two
 * authorization values cannot be sent: Node's HTTP/2 client refuses to.)
 */
const credential = fc.constantFrom(
  ['Bearer tok-a'],
  ['Bearer tok-b'],
  ['bearer   tok-a  '],
  ['BEARER tok-b'],
  ['Bearer nope'],
  ['Basic tok-a'],
  ['tok-a'],
  ['Bearer'],
  ['Bearer tok-a tok-b'],
  ['Bearer tok-ab'],
  [],
);
const rotation = fc.option(fc.constantFrom('/ns/a/sa/a', '/ns/b/sa/b'), { nil: undefined, freq: 4 });

const structuredCase = fc.oneof(
  fc.record({ api: fc.constant('sotw' as const), credential, requests: fc.array(fc.tuple(sotwRequest, rotation), { minLength: 1, maxLength: 4 }) }),
  fc.record({ api: fc.constant('delta' as const), credential, requests: fc.array(fc.tuple(deltaRequest, rotation), { minLength: 1, maxLength: 4 }) }),
  fc.record({ api: fc.constant('fetch' as const), credential, request: sotwRequest }),
  fc.record({ api: fc.constantFrom('x509svid' as const, 'x509bundles' as const), credential, header: fc.constantFrom('true', 'true', 'TRUE', '', 'yes'), rotate: rotation }),
);

// ---- checks ----

/** The identity paths a call may be served: those of the valid tokens in its metadata. */
function allowedPaths(cred: readonly string[]): Set<string> {
  // One authorization value per call (see credential).
  const out = new Set<string>();
  for (const v of cred) {
    const m = /^bearer\s+(\S+)\s*$/i.exec(v);
    const path = m ? TOKENS[m[1]!] : undefined;
    if (path) out.add(path);
  }
  return out;
}

describe('workload socket fuzzing (sds/ SDS and Workload API handlers, node mode, real Unix socket)', () => {
  let env: Env;
  /** Every private key (PKCS#8 PEM) each identity path ever had, and the reverse. */
  const keysByPath = new Map<string, Set<string>>();
  /** Keys checked in what calls received (the generators must reach the serving paths). */
  let servedKeys = 0;
  const pathByKey = new Map<string, string>();
  const remember = () => {
    for (const path of [...Object.values(TOKENS), env.provider.defaultPath]) {
      const svid = env.provider.snapshot(path).svid;
      if (!keysByPath.has(path)) keysByPath.set(path, new Set());
      keysByPath.get(path)!.add(svid.keyPem);
      pathByKey.set(svid.keyPem, path);
      pathByKey.set(svid.keyPkcs8Der.toString('base64'), path);
    }
  };

  beforeAll(async () => {
    env = await testWorkloadSocket({ mode: 'node', tokens: TOKENS });
    remember();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const metadata = (cred: readonly string[], extra: Record<string, string> = {}) => {
    const md = new Metadata();
    for (const v of cred) md.add('authorization', v);
    for (const [k, v] of Object.entries(extra)) md.set(k, v);
    return md;
  };

  /** A secret the call received: it must be one of the allowed identities' own key and certificate. */
  function checkSecret(secret: DecodedSecret, allowed: Set<string>): void {
    const tls = secret.tlsCertificate;
    if (!tls) return;
    const keyPem = tls.privateKey.inlineBytes.toString();
    servedKeys++;
    const owner = pathByKey.get(keyPem);
    expect(owner, 'a served key is a key the agent issued').toBeDefined();
    expect(allowed.has(owner!), `a call authenticated for ${[...allowed].join(', ') || 'nobody'} received the key of ${owner}`).toBe(true);
    const leaf = new X509Certificate(tls.certificateChain.inlineBytes);
    expect(leaf.subjectAltName).toBe(`URI:${TD}${owner}`);
    expect(leaf.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
  }

  /** Drives one duplex SDS stream: write each request (after its rotation), then half-close and wait for the end. */
  async function driveStream(
    call: ClientDuplexStream<unknown, unknown>,
    requests: ReadonlyArray<readonly [Record<string, unknown>, string | undefined]>,
    encode: (r: Record<string, unknown>, lastNonce: string) => Record<string, unknown>,
  ): Promise<{ messages: Record<string, unknown>[]; status: CallStatus }> {
    const messages: Record<string, unknown>[] = [];
    let arrived: () => void = () => {};
    call.on('data', (m: Record<string, unknown>) => {
      messages.push(m);
      arrived();
    });
    const ended = new Promise<CallStatus>((resolve) => {
      call.on('status', (s: CallStatus) => resolve(s));
      call.on('error', (e: Error & Partial<CallStatus>) => resolve({ code: e.code ?? status.UNKNOWN, details: e.details ?? e.message }));
    });
    for (const [request, rotate] of requests) {
      if (rotate) {
        await env.provider.rotate(rotate);
        remember();
      }
      const last = messages.length > 0 ? String(messages[messages.length - 1]!['nonce'] ?? '') : '';
      call.write(encode(request, last));
      // Let the server answer before the next request, so ACKs can name a nonce; not a timing assertion.
      await Promise.race([new Promise<void>((r) => (arrived = r)), sleep(20)]);
    }
    call.end();
    const st = await within(ended, 10_000, 'stream end after half-close');
    return { messages, status: st };
  }

  /** After every case: another client still gets its own identity. */
  async function stillServing(): Promise<void> {
    const res = await within(
      new Promise<{ err: (Error & { code?: number }) | null; res?: { resources: DecodedSecret[] } }>((resolve) =>
        env.client.sds.FetchSecrets({ resourceNames: ['default'], typeUrl: SECRET_TYPE_URL }, metadata(['Bearer tok-a']), (err, r) =>
          resolve({ err, res: r as { resources: DecodedSecret[] } }),
        ),
      ),
      10_000,
      'control fetch',
    );
    expect(res.err).toBeNull();
    checkSecret(res.res!.resources[0]!, new Set(['/ns/a/sa/a']));
  }

  it('fail/random DiscoveryRequest sequences on every method: a proper status, keys only of the presented identity, others still served', async () => {
    const { sds, workload } = env.client;
    servedKeys = 0;
    await fc.assert(
      fc.asyncProperty(structuredCase, async (c) => {
        const allowed = allowedPaths(c.credential);
        const md = metadata(c.credential);
        if (c.api === 'sotw') {
          const { messages, status: st } = await driveStream(sds.StreamSecrets(md) as ClientDuplexStream<unknown, unknown>, c.requests, (r, last) => ({
            resourceNames: r['names'],
            typeUrl: r['typeUrl'],
            versionInfo: r['version'],
            responseNonce: r['nonce'] === 'last' ? last : r['nonce'],
            ...(r['node'] ? { node: r['node'] } : {}),
            ...(r['errorDetail'] ? { errorDetail: r['errorDetail'] } : {}),
          }));
          expect(STREAM_STATUSES, `status ${st.code} ${st.details}`).toContain(st.code);
          if (allowed.size === 0) expect(messages, 'nothing for a call without a valid token').toEqual([]);
          const nonces = messages.map((m) => m['nonce']);
          expect(new Set(nonces).size, 'a fresh nonce per response').toBe(nonces.length);
          for (const m of messages) for (const s of m['resources'] as DecodedSecret[]) checkSecret(s, allowed);
        } else if (c.api === 'delta') {
          const { messages, status: st } = await driveStream(sds.DeltaSecrets(md) as ClientDuplexStream<unknown, unknown>, c.requests, (r, last) => ({
            resourceNamesSubscribe: r['subscribe'],
            resourceNamesUnsubscribe: r['unsubscribe'],
            initialResourceVersions: r['initial'],
            typeUrl: r['typeUrl'],
            responseNonce: r['nonce'] === 'last' ? last : r['nonce'],
            ...(r['node'] ? { node: r['node'] } : {}),
            ...(r['errorDetail'] ? { errorDetail: r['errorDetail'] } : {}),
          }));
          expect(STREAM_STATUSES, `status ${st.code} ${st.details}`).toContain(st.code);
          if (allowed.size === 0) expect(messages).toEqual([]);
          for (const m of messages) for (const r of m['resources'] as { resource: DecodedSecret }[]) checkSecret(r.resource, allowed);
        } else if (c.api === 'fetch') {
          const r = c.request;
          const res = await within(
            new Promise<{ code: number; res?: { resources: DecodedSecret[] } }>((resolve) =>
              sds.FetchSecrets(
                { resourceNames: r.names, typeUrl: r.typeUrl, versionInfo: r.version, responseNonce: r.nonce === 'last' ? '' : r.nonce, ...(r.node ? { node: r.node } : {}) },
                md,
                (err: (Error & { code: number }) | null, out?: unknown) => resolve(err ? { code: err.code } : { code: status.OK, res: out as { resources: DecodedSecret[] } }),
              ),
            ),
            10_000,
            'FetchSecrets',
          );
          expect(FETCH_STATUSES, `status ${res.code}`).toContain(res.code);
          if (allowed.size === 0) expect(res.code).not.toBe(status.OK);
          for (const s of res.res?.resources ?? []) checkSecret(s, allowed);
        } else {
          const method = c.api === 'x509svid' ? 'FetchX509SVID' : 'FetchX509Bundles';
          const call = (workload as unknown as Record<string, (req: unknown, md: Metadata) => ClientReadableStream<unknown>>)[method]!(
            {},
            metadata(c.credential, c.header === '' ? {} : { 'workload.spiffe.io': c.header }),
          );
          const messages: Record<string, unknown>[] = [];
          let arrived: () => void = () => {};
          call.on('data', (m: Record<string, unknown>) => {
            messages.push(m);
            arrived();
          });
          const ended = new Promise<number>((resolve) => {
            call.on('status', (s: CallStatus) => resolve(s.code));
            call.on('error', (e: Error & { code?: number }) => resolve(e.code ?? status.UNKNOWN));
          });
          // A server stream never ends by itself: take what comes (or the refusal), rotate, then cancel.
          await within(Promise.race([new Promise<void>((r) => (arrived = r)), ended]), 10_000, 'first Workload API message or status');
          if (c.rotate) {
            await env.provider.rotate(c.rotate);
            remember();
            await Promise.race([new Promise<void>((r) => (arrived = r)), ended, sleep(50)]);
          }
          call.cancel();
          const code = await within(ended, 10_000, 'Workload API end after cancel');
          expect(WORKLOAD_STATUSES, `status ${code}`).toContain(code);
          if (allowed.size === 0) expect(messages).toEqual([]);
          for (const m of messages) {
            for (const svid of (m['svids'] as { spiffeId: string; x509SvidKey: Buffer }[] | undefined) ?? []) {
              const owner = pathByKey.get(svid.x509SvidKey.toString('base64'));
              servedKeys++;
              expect(owner && allowed.has(owner), `Workload API call for ${[...allowed].join(', ') || 'nobody'} received the key of ${owner}`).toBe(true);
              expect(svid.spiffeId).toBe(`${TD}${owner}`);
            }
          }
        }
        await stillServing();
      }),
      fuzzParams(60, { caseTimeoutMs: 30_000 }),
    );
    // More than the control fetches (one per case): the fuzzed calls themselves were served keys.
    if (reachesCiCount(60)) expect(servedKeys).toBeGreaterThan(fuzzParams(60).numRuns!);
    await until(() => env.provider.openWatches === 0, 'every stream released its watch');
  });

  it('fail/raw gRPC frames of random bytes on every path: a gRPC status or a stream of the presented identity only, never a hang; others still served', async () => {
    const paths = [
      `/${SDS_SERVICE}/StreamSecrets`,
      `/${SDS_SERVICE}/DeltaSecrets`,
      `/${SDS_SERVICE}/FetchSecrets`,
      `/${WORKLOAD_API_SERVICE}/FetchX509SVID`,
      `/${WORKLOAD_API_SERVICE}/FetchX509Bundles`,
      `/${SDS_SERVICE}/Nope`,
      '/',
    ];
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      // Valid-looking protobuf: field 3 (resource_names) and 4 (type_url) of a DiscoveryRequest with random bytes.
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 60 }))
          .map(([a, b]) => Buffer.concat([Buffer.of(0x1a, a.length), a, Buffer.of(0x22, b.length), b])),
      },
      { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
      // resource_names: ["default"], then random bytes: decodes or not depending on them.
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 8 }).map((tail) => Buffer.concat([Buffer.of(0x1a, 0x07), Buffer.from('default'), tail])) },
    );
    let rawKeys = 0;
    // A client that stays connected through all the cases: it must still get pushes afterwards.
    const good = env.client.sds.StreamSecrets(metadata(['Bearer tok-b'])) as ClientDuplexStream<unknown, { nonce: string; versionInfo: string; resources: DecodedSecret[] }>;
    const pushes: { nonce: string; versionInfo: string; resources: DecodedSecret[] }[] = [];
    good.on('data', (m: (typeof pushes)[number]) => pushes.push(m));
    good.on('error', () => undefined);
    good.write({ resourceNames: ['default'], typeUrl: SECRET_TYPE_URL });
    await until(() => pushes.length === 1, 'the long-lived stream is served');
    good.write({ resourceNames: ['default'], typeUrl: SECRET_TYPE_URL, versionInfo: pushes[0]!.versionInfo, responseNonce: pushes[0]!.nonce });
    const rawCase = fc.record({
      path: fc.constantFrom(...paths),
      body,
      // gRPC length-prefixed message: compressed flag, and a declared length that may lie.
      flag: fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 2, 0x80),
      lengthDelta: fc.constantFrom(0, 0, 0, 0, 0, 0, 1, -1, 1000, 0x7fffffff),
      frames: fc.constantFrom(1, 1, 1, 0, 2, 3),
      credential,
      workloadHeader: fc.boolean(),
      contentType: fc.constantFrom('application/grpc', 'application/grpc', 'application/grpc+proto', 'application/json', ''),
    });
    await fc.assert(
      fc.asyncProperty(rawCase, async (c) => {
        const payload = Buffer.from(c.body);
        const header = Buffer.alloc(5);
        header[0] = c.flag;
        header.writeUInt32BE(Math.max(0, Math.min(0xffffffff, payload.length + c.lengthDelta)), 1);
        const frame = Buffer.concat([header, payload]);
        const sent = Buffer.concat(Array.from({ length: c.frames }, () => frame));
        const out = await within(rawCall(env.socket.socketPath, c.path, sent, c.credential, c.workloadHeader, c.contentType), 15_000, `raw call on ${c.path}`);
        if (out.grpcStatus !== undefined) expect(out.grpcStatus >= 0 && out.grpcStatus <= 16, `grpc-status ${out.grpcStatus}`).toBe(true);
        else expect(out.streaming || out.httpStatus !== 200, 'a response without grpc-status is a live stream or an HTTP error').toBe(true);
        // Whatever came back must not hold a key of an identity the call did not present a token for.
        const allowed = allowedPaths(c.credential);
        for (const [key, path] of pathByKey) {
          const needle = key.startsWith('-----') ? Buffer.from(key) : Buffer.from(key, 'base64');
          if (out.data.includes(needle)) rawKeys++;
          if (out.data.includes(needle)) expect(allowed.has(path), `raw call for ${[...allowed].join(', ') || 'nobody'} received the key of ${path}`).toBe(true);
        }
        await stillServing();
      }),
      fuzzParams(80, { caseTimeoutMs: 30_000 }),
    );
    if (reachesCiCount(80)) expect(rawKeys, 'some raw frames decode as requests and are served').toBeGreaterThan(0);
    await env.provider.rotate('/ns/b/sa/b');
    remember();
    await until(() => pushes.length === 2, 'the long-lived stream gets the rotated certificate');
    checkSecret(pushes[1]!.resources[0]!, new Set(['/ns/b/sa/b']));
    expect(pushes[1]!.resources[0]!.tlsCertificate!.privateKey.inlineBytes.toString()).toBe(env.provider.snapshot('/ns/b/sa/b').svid.keyPem);
    good.cancel();
    await until(() => env.provider.openWatches === 0, 'every stream released its watch');
  });
});

/**
 * One HTTP/2 request with a raw body: the grpc-status trailer, or, for a server stream that stays open
 * after sending, what it sent before going quiet for a moment (then the request is closed).
 */
function rawCall(
  socketPath: string,
  path: string,
  body: Buffer,
  credential: readonly string[],
  workloadHeader: boolean,
  contentType: string,
): Promise<{ grpcStatus?: number; httpStatus?: number; data: Buffer; streaming: boolean }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    session.on('error', reject);
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': path, te: 'trailers' };
    if (contentType) headers['content-type'] = contentType;
    if (credential[0] !== undefined) headers['authorization'] = credential[0];
    if (workloadHeader) headers['workload.spiffe.io'] = 'true';
    const req = session.request(headers);
    let got: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    const finish = (streaming: boolean) => {
      clearTimeout(idle);
      const s = got['grpc-status'];
      resolve({
        ...(s === undefined ? {} : { grpcStatus: Number(s) }),
        ...(got[':status'] === undefined ? {} : { httpStatus: Number(got[':status']) }),
        data: Buffer.concat(chunks),
        streaming,
      });
      req.close();
      session.close();
    };
    // A live server stream sends its state, then waits for changes: after a quiet moment it has said all.
    const quiet = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(true), 300);
    };
    req.on('response', (h) => {
      got = h;
      quiet();
    });
    req.on('trailers', (t) => (got = { ...got, ...t }));
    req.on('data', (d: Buffer) => {
      chunks.push(d);
      quiet();
    });
    req.on('end', () => finish(false));
    req.on('error', reject);
    req.end(body);
  });
}

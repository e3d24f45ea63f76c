import http2 from 'node:http2';
import net from 'node:net';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_NAME_BYTES, MAX_RESOURCE_NAMES } from '../../sds/index.js';
import { metricValue, testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;

/** Sends raw gRPC frames on one HTTP/2 stream and returns the grpc-status trailer. */
function rawCall(socketPath: string, path: string, body: Buffer): Promise<{ grpcStatus: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    let headers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (headers = h));
    req.on('trailers', (t) => (headers = { ...headers, ...t }));
    req.on('data', () => {});
    req.on('end', () => {
      session.close();
      resolve({ grpcStatus: Number(headers['grpc-status']), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function frame(payload: Buffer, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

describe('bad input on the workload socket', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('fail/garbage protobuf → INTERNAL for that call; a truncated frame ends that call; others keep being served', async () => {
    const good = env.client.sotw();
    good.request({ names: ['default'] });
    const g1 = await good.next();
    good.ack(g1);
    const path = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';
    // 0xff... is an invalid field tag/wire type: the request cannot be decoded.
    const garbage = await rawCall(env.socket.socketPath, path, frame(Buffer.alloc(64, 0xff)));
    expect(garbage.grpcStatus).toBe(status.INTERNAL);
    // A frame announcing more bytes than sent, then end of stream: grpc-js drops the partial frame; the
    // stream sees a half-close and ends (OK, nothing was asked); a unary call without a message fails.
    const truncated = await rawCall(env.socket.socketPath, path, frame(Buffer.from('abc'), 1000));
    expect(Number.isInteger(truncated.grpcStatus)).toBe(true);
    const truncatedFetch = await rawCall(env.socket.socketPath, '/envoy.service.secret.v3.SecretDiscoveryService/FetchSecrets', frame(Buffer.from('abc'), 1000));
    expect(truncatedFetch.grpcStatus).not.toBe(status.OK);
    const fetchGarbage = await rawCall(env.socket.socketPath, '/envoy.service.secret.v3.SecretDiscoveryService/FetchSecrets', frame(Buffer.alloc(16, 0xff)));
    expect(fetchGarbage.grpcStatus).toBe(status.INTERNAL);
    await env.provider.rotate();
    const g2 = await good.next();
    expect(g2.nonce).not.toBe(g1.nonce);
    expect((await env.newClient().fetch(['ROOTCA'])).status.code).toBe(status.OK);
    good.close();
  });

  it('fail/too many names or a too long name → INVALID_ARGUMENT (SotW, Delta, Fetch)', async () => {
    const many = Array.from({ length: MAX_RESOURCE_NAMES + 1 }, (_, i) => `n${i}`);
    const s = env.client.sotw();
    s.request({ names: many });
    const st = await s.inbox.ended;
    expect(st.code).toBe(status.INVALID_ARGUMENT);
    expect(st.details).toContain(String(MAX_RESOURCE_NAMES));
    const long = env.client.sotw();
    long.request({ names: ['x'.repeat(MAX_NAME_BYTES + 1)] });
    expect((await long.inbox.ended).code).toBe(status.INVALID_ARGUMENT);
    const d = env.client.delta();
    d.request({ subscribe: ['default'], initialVersions: Object.fromEntries(many.map((n) => [n, '1'])) });
    expect((await d.inbox.ended).code).toBe(status.INVALID_ARGUMENT);
    expect((await env.client.fetch(many)).status.code).toBe(status.INVALID_ARGUMENT);
    expect(await metricValue(env.registry, 'castellan_sds_rejected_calls_total', { api: 'sds_sotw', reason: 'ERR_SDS_TOO_MANY_NAMES' })).toBe(1);
    expect(env.provider.openWatches).toBe(0);
  });

  it('fail/a message over 1 MiB → RESOURCE_EXHAUSTED', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'], nodeId: 'x'.repeat(1_100_000) });
    expect((await s.inbox.ended).code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await env.client.fetch(['default'])).status.code).toBe(status.OK);
  });
});

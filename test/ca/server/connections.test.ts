import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { initCa, loadCa, loadDevTokenIssuer } from '../../../ca/index.js';
import { startAgent, type Agent } from '../../../sds/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { memoryLog, testCaServer } from '../../helpers/ca-server.js';
import { tempDir, testCa } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';
import { agentFixture, FAST_CHANNEL } from '../../helpers/agent-fixture.js';

// The CA's gRPC port against clients that open connections or calls and then do nothing: every bound below is configured small so the tests wait for behaviour, not for defaults;
// the waits are generous limits for a busy machine, never measurements.
let t: ReturnType<typeof tempDir>;
let dir: string;
let bundlePem: string;
beforeAll(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
  bundlePem = (await loadCa(dir)).bundle.map((c) => c.pem).join('');
});
afterAll(() => t.cleanup());

/** Resolves when `emitter` emits 'close'; `false` when it did not within `limitMs`. */
function closed(emitter: NodeJS.EventEmitter, limitMs = 8_000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), limitMs);
    emitter.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function devToken(caDir: string): Promise<string> {
  const issuer = await loadDevTokenIssuer(caDir);
  return mintServiceAccountToken(issuer.privateKey, issuer.kid, { issuer: issuer.issuer, audiences: ['castellan'], namespace: 'shop', serviceAccount: 'cart', ttlSeconds: 600 });
}

function h2(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`https://localhost:${port}`, { ca: bundlePem, servername: 'localhost' });
  s.on('error', () => undefined);
  return s;
}

describe('CA connections that stall', () => {
  it('fail/a connection that never finishes its TLS handshake is closed after limits.handshakeTimeout', async () => {
    const s = await testCaServer(dir, { limits: { handshakeTimeout: 300 } }, true);
    try {
      const silent = net.connect(s.server.grpcPort, '127.0.0.1');
      silent.on('error', () => undefined);
      // Bytes of a TLS record header, one at a time: activity must not extend the bound.
      const trickle = net.connect(s.server.grpcPort, '127.0.0.1');
      trickle.on('error', () => undefined);
      const header = [0x16, 0x03, 0x01, 0x02, 0x00]; // a handshake record of 512 bytes, never completed
      let sent = 0;
      const drip = setInterval(() => trickle.destroyed || trickle.write(Buffer.from([header[sent++] ?? 0])), 100);
      const [a, b] = await Promise.all([closed(silent), closed(trickle)]);
      clearInterval(drip);
      silent.destroy();
      trickle.destroy();
      expect({ silent: a, trickle: b }).toEqual({ silent: true, trickle: true });
    } finally {
      await s.server.shutdown(200);
    }
  });

  it('fail/a connection without any call is closed after limits.connectionIdleTimeout; one with an open stream is not', async () => {
    const s = await testCaServer(dir, { limits: { connectionIdleTimeout: 400 } }, true);
    const c = caClients(s.address, bundlePem);
    const watcher = caClients(s.address, bundlePem);
    try {
      const idle = h2(s.server.grpcPort);
      // TLS finished, but not one byte of HTTP/2 (Node's session cannot even be closed gracefully then).
      const mute = tls.connect({ host: '127.0.0.1', port: s.server.grpcPort, ca: bundlePem, servername: 'localhost', ALPNProtocols: ['h2'] });
      mute.on('error', () => undefined);
      mute.resume(); // read, so that the server's close is seen
      await new Promise((resolve) => mute.once('secureConnect', resolve));
      expect(await Promise.all([closed(idle), closed(mute)])).toEqual([true, true]);
      // A real client after its connection went idle: the next call simply opens a new one.
      expect((await unary(c.castellan, 'GetAuthorityStatus', {})).code).toBe(16); // UNAUTHENTICATED (no token): served
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await unary(c.castellan, 'GetAuthorityStatus', {})).code).toBe(16);
      // A trust-bundle stream is a call: its connection outlives the idle bound and still gets pushes.
      const md = new Metadata();
      md.set('authorization', `Bearer ${await devToken(dir)}`);
      const stream = (watcher.castellan as unknown as Record<string, (r: unknown, m: Metadata) => ClientReadableStream<{ sequence: string }>>)['WatchTrustBundle']!(
        { agentId: 'a1' },
        md,
      );
      const got: string[] = [];
      stream.on('data', (m: { sequence: string }) => got.push(String(m.sequence)));
      stream.on('error', () => undefined);
      await until(() => got.length === 1, 'the first bundle message');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const other = await testCa();
      s.server.trustBundle.update([...(await loadCa(dir)).bundle, other.ca.bundle[0]!]);
      other.cleanup();
      await until(() => got.length === 2, 'the push on the stream that outlived the idle bound');
      stream.cancel();
    } finally {
      c.close();
      watcher.close();
      await s.server.shutdown(200);
    }
  });

  it('fail/a call whose request never arrives closes its connection after limits.requestTimeout; other clients are served', async () => {
    const s = await testCaServer(dir, { limits: { requestTimeout: 300 } }, true);
    const c = caClients(s.address, bundlePem);
    try {
      const session = h2(s.server.grpcPort);
      // Headers of calls whose request message is never sent (the client neither sends data nor ends).
      const streams = ['Sign', 'WatchTrustBundle', 'GetAuthorityStatus'].map((m) => {
        const st = session.request(
          { ':method': 'POST', ':path': `/castellan.ca.v1.CertificateAuthority/${m}`, 'content-type': 'application/grpc', te: 'trailers' },
          { endStream: false },
        );
        st.on('error', () => undefined);
        return st;
      });
      const served = await unary(c.castellan, 'GetAuthorityStatus', {});
      expect(served.code).toBe(16);
      const ended = await Promise.all([closed(session), ...streams.map((st) => closed(st))]);
      expect(ended).toEqual([true, true, true, true]);
      expect((await unary(c.castellan, 'GetAuthorityStatus', {})).code).toBe(16);
    } finally {
      c.close();
      await s.server.shutdown(200);
    }
  });

  it('fail/more connections from one address than limits.maxConnectionsPerPeer are closed at once', async () => {
    const s = await testCaServer(dir, { limits: { maxConnectionsPerPeer: 2 } }, true);
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const sock = net.connect(s.server.grpcPort, '127.0.0.1');
        sock.on('error', () => undefined);
        sockets.push(sock);
        await new Promise((resolve) => sock.once('connect', resolve));
      }
      expect(await closed(sockets[2]!)).toBe(true);
      expect(sockets.slice(0, 2).map((x) => x.destroyed)).toEqual([false, false]);
    } finally {
      for (const x of sockets) x.destroy();
      await s.server.shutdown(200);
    }
  });
});

describe('long-lived trust-bundle streams and connection age', () => {
  let agent: Agent | undefined;
  let f: Awaited<ReturnType<typeof agentFixture>> | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await f?.cleanup();
    f = undefined;
  });

  it('ok/an agent whose connection is aged out (limits.connectionMaxAge) reconnects and keeps receiving bundle changes', async () => {
    f = await agentFixture({ config: { limits: { connectionMaxAge: 700, connectionMaxAgeGrace: 300 } } });
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      tokenFile,
      log: memoryLog().log,
      caChannelOptions: FAST_CHANNEL,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    const w = await agent.provider.watch({});
    const reconnects = async () => Number(/castellan_agent_trust_bundle_reconnects_total (\d+)/.exec(await agent!.registry.metrics())?.[1] ?? 0);
    await until(async () => (await reconnects()) >= 2, 'two connection ages', 15_000);
    const other = await testCa();
    try {
      const own = (await loadCa(f.caDir)).bundle;
      const watchers = async () => (await f!.ca.server.metrics.bundleWatchers.get()).values[0]?.value;
      await until(async () => (await watchers()) === 1, 'the re-opened stream');
      f.ca.server.trustBundle.update([...own, other.ca.bundle[0]!]);
      await until(() => w.current().bundles[0]!.roots.length === 2, 'the bundle change after reconnecting');
      // The connection age applies to the CA's connections, not to the agent's identity: same leaf.
      expect(agent.certificates()).toHaveLength(1);
    } finally {
      other.cleanup();
      w.close();
    }
  });
});

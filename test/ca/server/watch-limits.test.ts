import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentTracker, initCa, loadCa, loadDevTokenIssuer, type CaServerConfig } from '../../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { memoryLog, testCaServer } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';

// One workload must not take every WatchTrustBundle slot, nor make the CA track thousands of invented
// agents that hold up `root activate`; a node-agent DaemonSet (one service
// account, one agent per node, each node its own address) must keep working.
const OK = 0;
const RESOURCE_EXHAUSTED = 8;

let t: ReturnType<typeof tempDir>;
let bundlePem: string;
let mint: (sa: string) => Promise<string>;
let n = 0;
beforeAll(() => {
  t = tempDir();
});
afterAll(() => t.cleanup());

/** A WatchTrustBundle request body: gRPC frame of `{ agent_id }` (field 1, string). */
function watchRequest(agentId: string): Buffer {
  const id = Buffer.from(agentId);
  const msg = Buffer.concat([Buffer.from([0x0a, id.length]), id]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(msg.length, 1);
  return Buffer.concat([frame, msg]);
}

/**
 * Opens WatchTrustBundle over a raw HTTP/2 connection from `localAddress` (any 127.x address works on
 * Linux loopback: one peer address per simulated node). Resolves with 0 once the first bundle message
 * arrives (the stream stays open until `close`), or with the grpc-status the call ended with.
 */
async function openWatch(port: number, token: string, agentId: string, localAddress = '127.0.0.1'): Promise<{ code: number; close(): void }> {
  const session = http2.connect(`https://localhost:${port}`, {
    createConnection: () => tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress }), ca: bundlePem, servername: 'localhost', ALPNProtocols: ['h2'] }),
  });
  session.on('error', () => undefined);
  const st = session.request({
    ':method': 'POST',
    ':path': '/castellan.ca.v1.CertificateAuthority/WatchTrustBundle',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
  });
  st.on('error', () => undefined);
  st.end(watchRequest(agentId));
  const code = await new Promise<number>((resolve) => {
    st.on('response', (h) => h['grpc-status'] !== undefined && resolve(Number(h['grpc-status'])));
    st.on('trailers', (h) => resolve(Number(h['grpc-status'])));
    st.on('data', () => resolve(OK));
    st.on('close', () => resolve(-1));
  });
  return { code, close: () => session.destroy() };
}

/** A CA of its own (its agent reports start empty) and a dev-token minter for it. */
async function server(limits: NonNullable<CaServerConfig['limits']>) {
  const dir = path.join(t.dir, `ca${++n}`);
  await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
  bundlePem = (await loadCa(dir)).bundle.map((c) => c.pem).join('');
  const issuer = await loadDevTokenIssuer(dir);
  mint = (sa) =>
    mintServiceAccountToken(issuer.privateKey, issuer.kid, { issuer: issuer.issuer, audiences: ['castellan'], namespace: 'shop', serviceAccount: sa, ttlSeconds: 600 });
  return testCaServer(dir, { limits }, true);
}

describe('WatchTrustBundle slots', () => {
  it('fail/one identity from one address cannot take every slot: it stops at maxWatchersPerIdentityPeer (default 8), others still get theirs', async () => {
    const s = await server({ maxWatchers: 20 });
    const open: { close(): void }[] = [];
    try {
      const greedy = await mint('greedy');
      const codes: number[] = [];
      for (let i = 0; i < 20; i++) {
        const w = await openWatch(s.server.grpcPort, greedy, `a${i}`);
        open.push(w);
        codes.push(w.code);
      }
      expect(codes.filter((c) => c === OK)).toHaveLength(8);
      expect(codes.slice(8)).toEqual(Array(12).fill(RESOURCE_EXHAUSTED));
      const other = await openWatch(s.server.grpcPort, await mint('other'), 'b0');
      open.push(other);
      expect(other.code).toBe(OK);
      expect(s.lines.join('')).toMatch(/already has 8 trust-bundle streams open from 127\.0\.0\.1/);
    } finally {
      for (const w of open) w.close();
      await s.server.shutdown(200);
    }
  });

  it('fail/one address cannot take every slot with many identities: maxWatchersPerPeer', async () => {
    const s = await server({ maxWatchers: 20, maxWatchersPerPeer: 5 });
    const open: { close(): void }[] = [];
    try {
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) {
        const w = await openWatch(s.server.grpcPort, await mint(`sa${i}`), 'n');
        open.push(w);
        codes.push(w.code);
      }
      expect(codes).toEqual([OK, OK, OK, OK, OK, RESOURCE_EXHAUSTED, RESOURCE_EXHAUSTED]);
      const elsewhere = await openWatch(s.server.grpcPort, await mint('sa9'), 'n', '127.0.0.2');
      open.push(elsewhere);
      expect(elsewhere.code).toBe(OK);
    } finally {
      for (const w of open) w.close();
      await s.server.shutdown(200);
    }
  });

  it('ok/a node-agent DaemonSet: one identity, one agent per node address, far beyond the per-address bounds; maxWatchersPerIdentity caps it', async () => {
    const s = await server({ maxWatchersPerIdentity: 30 });
    const open: { close(): void }[] = [];
    try {
      const daemonset = await mint('castellan-agent');
      const codes: number[] = [];
      for (let node = 1; node <= 32; node++) {
        const w = await openWatch(s.server.grpcPort, daemonset, `node-${node}`, `127.0.1.${node}`);
        open.push(w);
        codes.push(w.code);
      }
      expect(codes.slice(0, 30)).toEqual(Array(30).fill(OK));
      expect(codes.slice(30)).toEqual([RESOURCE_EXHAUSTED, RESOURCE_EXHAUSTED]);
      expect(s.server.agents.list()).toHaveLength(30);
      // A stream that ends frees its slot.
      open[0]!.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await openWatch(s.server.grpcPort, daemonset, 'node-1', '127.0.1.1');
      open.push(again);
      expect(again.code).toBe(OK);
    } finally {
      for (const w of open) w.close();
      await s.server.shutdown(200);
    }
  });
});

describe('agent ids one workload may make the CA track', () => {
  it('fail/ReportTrustBundle with invented agent ids: at most maxAgentsPerIdentityPeer (default 8) per identity and address, so they cannot hold up root activation by the thousand', async () => {
    const s = await server({});
    const c = caClients(s.address, bundlePem);
    try {
      const token = await mint('inventor');
      for (let i = 0; i < 50; i++) {
        const r = await unary(c.castellan, 'ReportTrustBundle', { agentId: `invented-${i}`, sequence: 1 }, token);
        expect(r.code).toBe(OK);
      }
      const tracked = s.server.agents.list().filter((a) => a.identity === 'spiffe://cluster.local/ns/shop/sa/inventor');
      expect(tracked).toHaveLength(8);
      // The newest claims are kept: the workload's real agent (which reports on) is not pushed out by its own old ones.
      expect(tracked.map((a) => a.agentId).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `invented-${42 + i}`).sort());
      // What the activation gate sees of them (they serve the current sequence until a root is prepared).
      expect(s.server.agents.liveSequences()).toEqual(Array(8).fill(1));
    } finally {
      c.close();
      await s.server.shutdown(200);
    }
  });

  it('fail/the agents of an identity at one address that hold their stream open are never pushed out: a new id is refused instead', () => {
    const tracker = new AgentTracker({ replicaId: 'x', now: () => new Date(), log: memoryLog().log, maxAgentsPerIdentityPeer: 2 });
    const id = 'spiffe://cluster.local/ns/shop/sa/web';
    tracker.connected({ agentId: 'a', identity: id, peer: '10.0.0.1:1' });
    tracker.connected({ agentId: 'b', identity: id, peer: '10.0.0.1:2' });
    expect(() => tracker.report({ agentId: 'c', identity: id, sequence: 1, peer: '10.0.0.1:3' })).toThrow(/2 agent ids from 10\.0\.0\.1/);
    // Another address of the same identity (another pod, another node) is not affected.
    tracker.report({ agentId: 'c', identity: id, sequence: 1, peer: '10.0.0.2:3' });
    expect(
      tracker
        .list()
        .map((a) => a.agentId)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
  });

  it('fail/an identity may make the CA track at most maxAgentsPerIdentity agent ids across addresses', () => {
    const tracker = new AgentTracker({ replicaId: 'x', now: () => new Date(), log: memoryLog().log, maxAgentsPerIdentity: 3 });
    const id = 'spiffe://cluster.local/ns/castellan-system/sa/castellan-agent';
    for (let n = 1; n <= 3; n++) tracker.report({ agentId: `node-${n}`, identity: id, sequence: 1, peer: `10.0.0.${n}:1` });
    expect(() => tracker.report({ agentId: 'node-4', identity: id, sequence: 1, peer: '10.0.0.4:1' })).toThrow(/already reports 3 agent ids/);
  });
});

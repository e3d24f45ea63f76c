import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../sds/agent.js';
import { SdsClient } from '../../sds/index.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { sdsTlsHandshake, sdsTlsServer } from '../helpers/tls-endpoints.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
const clients: SdsClient[] = [];
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await agent?.close();
  agent = undefined;
  await f.cleanup();
});

describe('mTLS between two workloads whose certificates come only from SDS', () => {
  it('ok/keeps handshaking with zero failures while both certificates rotate at least 5 times', async () => {
    const socketPath = path.join(f.dir, 'sds.sock');
    // Real CA, real time: 60 s certificates renewed at 1 % of their lifetime (~0.6 s), so TLS checks
    // validity against the real clock while rotations come quickly.
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      mode: 'node',
      ttlMs: 60_000,
      renewal: { fraction: 0.01, jitter: 0.002 },
      socketPath,
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    const serverSds = new SdsClient({ socketPath, token: await f.mint('demo', 'server'), nodeId: 'demo-server' });
    const clientSds = new SdsClient({ socketPath, token: await f.mint('demo', 'client'), nodeId: 'demo-client' });
    clients.push(serverSds, clientSds);
    await clientSds.ready();
    const srv = await sdsTlsServer(serverSds);
    try {
      const serverSerials = new Set<string>();
      const clientSerials = new Set<string>();
      let handshakes = 0;
      const failures: string[] = [];
      const peers = new Set<string>();
      // Until each side has been seen by its peer with at least 6 serials (5 rotations). Rotations come
      // every ~0.6 s; the generous deadline only bounds a broken run (a loaded 2-core machine is slow,
      // not wrong). A failed handshake is counted, not thrown, so the count below is what is asserted.
      const deadline = Date.now() + 75_000;
      while ((serverSerials.size < 6 || clientSerials.size < 6) && Date.now() < deadline) {
        try {
          const r = await sdsTlsHandshake(clientSds, srv.port);
          handshakes++;
          peers.add(`${r.server.spiffeId} ${r.client.spiffeId}`);
          serverSerials.add(r.server.serial);
          clientSerials.add(r.client.serial);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
      expect(failures).toEqual([]);
      expect([...peers]).toEqual(['spiffe://cluster.local/ns/demo/sa/server spiffe://cluster.local/ns/demo/sa/client']);
      expect(handshakes).toBeGreaterThan(0);
      expect(serverSerials.size).toBeGreaterThanOrEqual(6);
      expect(clientSerials.size).toBeGreaterThanOrEqual(6);
      // The agent issued those rotations (and served each identity only to its own token).
      const rotated = await agent.registry.getSingleMetric('castellan_agent_rotations_total')!.get();
      for (const id of ['server', 'client']) {
        const v = rotated.values.find((x) => x.labels['spiffe_id'] === `spiffe://cluster.local/ns/demo/sa/${id}`)?.value ?? 0;
        expect(v).toBeGreaterThanOrEqual(6);
      }
    } finally {
      await new Promise<void>((resolve) => srv.server.close(() => resolve()));
    }
  }, 120_000);
});

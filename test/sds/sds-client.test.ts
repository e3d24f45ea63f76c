import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SdsClient, type SdsIdentity } from '../../sds/index.js';
import { metricValue, testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;

describe('SdsClient (the product SDS client of the demo workloads)', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('ok/emits the identity, ACKs, and emits each rotation and bundle change', async () => {
    const client = new SdsClient({ socketPath: env.socket.socketPath, nodeId: 'demo' });
    try {
      const first = await client.ready();
      expect(first.certificateChainPem).toBe(env.provider.snapshot().svid.chainPem);
      expect(first.privateKeyPem).toBe(env.provider.snapshot().svid.keyPem);
      expect(first.trustedCaPem).toBe(env.provider.bundle.rootsPem);
      const seen: SdsIdentity[] = [];
      client.on('identity', (id) => seen.push(id));
      await env.provider.rotate();
      await expect.poll(() => seen.length).toBe(1);
      expect(seen[0]!.certificateChainPem).toBe(env.provider.snapshot().svid.chainPem);
      const bundle = await env.provider.changeBundle();
      // Two pushes: the bundle (old leaf) then the new leaf.
      await expect.poll(() => seen.length).toBe(3);
      expect(seen[1]!.trustedCaPem).toBe(bundle.rootsPem);
      expect(seen[1]!.certificateChainPem).toBe(seen[0]!.certificateChainPem);
      expect(seen[2]!.certificateChainPem).toBe(env.provider.snapshot().svid.chainPem);
      expect(await metricValue(env.registry, 'castellan_sds_nacks_total', { api: 'sds_sotw' })).toBe(0);
    } finally {
      client.close();
    }
  });

  it('ok/reconnects after the agent restarts on the same socket', async () => {
    const client = new SdsClient({ socketPath: env.socket.socketPath, reconnectDelayMs: 10 });
    try {
      await client.ready();
      await env.socket.close();
      const { startWorkloadSocket } = await import('../../sds/index.js');
      const { memoryLog } = await import('../helpers/ca-server.js');
      const again = await startWorkloadSocket({ socketPath: env.socket.socketPath, provider: env.provider, log: memoryLog().log });
      try {
        const seen: SdsIdentity[] = [];
        client.on('identity', (id) => seen.push(id));
        await expect.poll(() => env.provider.openWatches, { timeout: 10_000 }).toBe(1);
        await env.provider.rotate();
        await expect.poll(() => seen.length).toBe(1);
        expect(seen[0]!.certificateChainPem).toBe(env.provider.snapshot().svid.chainPem);
      } finally {
        await again.close();
      }
    } finally {
      client.close();
    }
  });
});

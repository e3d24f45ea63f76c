import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SdsClient, type SdsIdentity } from '../../sds/index.js';
import { CastellanError } from '../../workload-identity/index.js';
import { metricValue, testWorkloadSocket } from '../helpers/workload-socket.js';
import { ManualClock } from '../helpers/manual-clock.js';

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

  it('fail/a failed stream schedules exactly one reconnect, with doubling backoff; nothing reconnects after close()', async () => {
    const clock = new ManualClock();
    env.provider.failWith = new CastellanError('ERR_NOT_READY', 'sds: not yet');
    const client = new SdsClient({ socketPath: env.socket.socketPath, reconnectDelayMs: 50, clock });
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    try {
      for (const delay of [50, 100, 200]) {
        await expect.poll(() => clock.pending().length).toBe(1);
        // Let every late event of the failed stream ('end' after 'error', or the reverse) arrive.
        await new Promise((r) => setImmediate(r));
        expect(clock.pending().map((p) => p.ms)).toEqual([delay]);
        clock.fireNext();
      }
      await expect.poll(() => clock.pending().length).toBe(1);
      expect(client.connects).toBe(4);
      expect(env.provider.callers.length).toBe(4);
      env.provider.failWith = undefined;
      clock.fireNext();
      await client.ready();
      expect(env.provider.openWatches).toBe(1);
      client.close();
      await expect.poll(() => env.provider.openWatches).toBe(0);
      expect(clock.pending()).toEqual([]);
      expect(client.connects).toBe(5);
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

import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;

describe('a throw while serving an opened watch', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('fail/fails only that call (INTERNAL, logged at error), releases its watch; the agent keeps serving', async () => {
    env.provider.brokenSnapshot = true;
    const sotw = env.client.sotw();
    sotw.request({ names: ['default'] });
    const delta = env.client.delta();
    delta.request({ subscribe: ['default'] });
    const ends = await Promise.all([sotw.inbox.ended, delta.inbox.ended, env.client.x509Svid().ended, env.client.x509Bundles().ended]);
    expect(ends.map((e) => e.code)).toEqual([status.INTERNAL, status.INTERNAL, status.INTERNAL, status.INTERNAL]);
    expect(ends[0]!.details).not.toContain('broken snapshot');
    await expect.poll(() => env.provider.openWatches).toBe(0);
    const errors = env.lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
    expect(errors).toHaveLength(4);
    env.provider.brokenSnapshot = false;
    const ok = env.client.sotw();
    ok.request({ names: ['default'] });
    expect((await ok.next()).resources.map((r) => r.name)).toEqual(['default']);
    ok.close();
  });
});

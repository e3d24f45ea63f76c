import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initCa, loadCa } from '../../../ca/index.js';
import { TrustDomain } from '../../../workload-identity/index.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';
import { lifecycleEvents } from '../../helpers/rotation.js';
import { until } from '../../helpers/until.js';

let t: ReturnType<typeof tempDir>;
let ca: Awaited<ReturnType<typeof testCaServer>> | undefined;
afterEach(async () => {
  await ca?.server.shutdown(100);
  ca = undefined;
  t.cleanup();
});

const DAY = 86_400_000;

describe('automatic intermediate rotation by the running CA', () => {
  it('ok/past rotation.intermediateRotateAt of its life, a new intermediate under the same root takes over; recorded; the bundle keeps its roots', async () => {
    t = tempDir();
    const dir = path.join(t.dir, 'ca');
    // An intermediate of 2 days created 1.5 days ago: past half of its life.
    const before = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local'), intermediateTtlMs: 2 * DAY, now: new Date(Date.now() - 1.5 * DAY) });
    ca = await testCaServer(dir, { rotation: { reloadInterval: 100, intermediateRotateAt: 0.5 } }, true);
    await until(() => ca!.server.activeAuthority.issuer.serialHex !== before.active.issuer.serialHex, 'the intermediate rotation');
    const after = await loadCa(dir);
    expect(ca.server.activeAuthority.issuer.serialHex).toBe(after.active.issuer.serialHex);
    expect(after.active.issuer.serialHex).not.toBe(before.active.issuer.serialHex);
    expect(after.active.record.rootOf).toBe(1);
    expect(after.active.issuer.notAfter.getTime()).toBeGreaterThan(Date.now() + 1.9 * DAY);
    expect(after.authorities[0]).toMatchObject({ state: 'retired' });
    expect(ca.server.trustBundle.current()).toMatchObject({ sequence: 2, activeIssuerKeyId: after.active.issuer.ski.toString('hex') });
    expect(ca.server.trustBundle.current().roots.map((r) => r.serialHex)).toEqual([before.active.root.serialHex]);
    // Once: the next ticks find nothing due.
    await new Promise((r) => setTimeout(r, 300));
    expect((await loadCa(dir)).authorities).toHaveLength(2);
    await ca.server.shutdown(100);
    ca = undefined;
    expect(await lifecycleEvents(dir)).toContain('intermediate-rotated');
  });
});

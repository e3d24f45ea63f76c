import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, loadDevTokenIssuer, openLedgerStore } from '../../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { spawnCa, type CaChild } from '../../helpers/ca-child.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { cli } from '../../helpers/cli.js';
import { testCsr } from '../../helpers/csr.js';
import { tempDir } from '../../helpers/test-ca.js';

const children: CaChild[] = [];
const t = tempDir();
afterAll(async () => {
  for (const c of children) {
    c.kill('SIGKILL');
    await c.exited;
  }
  t.cleanup();
});

describe('crash safety', () => {
  it('ok/after SIGKILL under load and a restart, the ledger verifies and holds every certificate a client received', async () => {
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const bundlePem = (await loadCa(dir)).bundle.map((c) => c.pem).join('');
    const dev = await loadDevTokenIssuer(dir);
    const tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['castellan'], namespace: 'load', serviceAccount: `sa-${i}`, ttlSeconds: 600 }),
      ),
    );
    const csrs = await Promise.all(Array.from({ length: 16 }, async () => (await testCsr()).der));

    const ca = await spawnCa(dir, { ledger: { checkpointEvery: 50 } });
    children.push(ca);
    const client = caClients(ca.address, bundlePem);
    const received: string[] = [];
    let killed = false;
    let enough!: () => void;
    const reached = new Promise<void>((resolve) => (enough = resolve));
    const loops = csrs.map(async (csr, i) => {
      while (!killed) {
        const r = await unary<{ serial: string }>(client.castellan, 'Sign', { csr, ttlSeconds: 600 }, tokens[i % tokens.length], 5000);
        if (r.code === 0) {
          received.push(r.response!.serial);
          if (received.length >= 300) enough();
        } else if (killed) return;
        else throw new Error(`unexpected status ${r.code} ${r.details} before the kill`);
      }
    });
    // Kill while requests are in flight, once a few hundred certificates went out; a loop failing
    // before that fails the test at once (instead of waiting for a count that never comes).
    await Promise.race([reached, Promise.all(loops).then(() => Promise.reject(new Error('the load stopped before the kill')))]);
    ca.kill('SIGKILL');
    killed = true;
    expect(await ca.exited).toBe('SIGKILL');
    await Promise.all(loops);
    client.close();

    const again = await spawnCa(dir, { ledger: { checkpointEvery: 50 } });
    children.push(again);
    const v = await cli(['audit', 'verify', '--dir', dir]);
    expect(v.err).toBe('');
    expect(v.code).toBe(0);
    const store = await openLedgerStore({ dir, readOnly: true });
    try {
      const missing: string[] = [];
      for (const serial of received) {
        const recs = await store.bySerial(serial);
        if (recs.length !== 1 || recs[0]!.outcome !== 'issued') missing.push(serial);
      }
      expect(missing).toEqual([]);
    } finally {
      await store.close();
    }
    again.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    const after = await cli(['audit', 'verify', '--dir', dir, '--output', 'json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.out)).toMatchObject({ ok: true, unprotected: 0 });
    expect((JSON.parse(after.out) as { records: number }).records).toBeGreaterThanOrEqual(received.length);
  });
});

import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, loadDevTokenIssuer, openLedgerStore } from '../../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { spawnCa, type CaChild } from '../../helpers/ca-child.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { cli } from '../../helpers/cli.js';
import { testCsr } from '../../helpers/csr.js';
import { freshPgDatabase, pgSkipReason, pgTestUrl } from '../../helpers/postgres.js';
import { tempDir } from '../../helpers/test-ca.js';

if (!pgTestUrl) console.log(pgSkipReason);

const children: CaChild[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of children) {
    c.kill('SIGKILL');
    await c.exited;
  }
  for (const c of cleanups.reverse()) await c();
});

describe.skipIf(!pgTestUrl)('CA replicas sharing one PostgreSQL ledger', () => {
  it('ok/two CA processes under concurrent load keep one valid chain holding every certificate', async () => {
    const db = await freshPgDatabase();
    cleanups.push(db.drop);
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const bundlePem = (await loadCa(dir)).bundle.map((c) => c.pem).join('');
    const dev = await loadDevTokenIssuer(dir);
    const tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['castellan'], namespace: 'load', serviceAccount: `sa-${i}`, ttlSeconds: 600 }),
      ),
    );
    const config = { ledger: { url: db.url, checkpointEvery: 20 } };
    const replicas = await Promise.all([spawnCa(dir, config), spawnCa(dir, config)]);
    children.push(...replicas);
    const clients = replicas.map((r) => caClients(r.address, bundlePem));
    const received: string[] = [];
    const perReplica = [0, 0];
    try {
      await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const csr = (await testCsr()).der;
          for (let n = 0; n < 20; n++) {
            const which = (i + n) % 2;
            const r = await unary<{ serial: string }>(clients[which]!.castellan, 'Sign', { csr, ttlSeconds: 600 }, tokens[i % tokens.length]);
            expect(r.details).toBeUndefined();
            received.push(r.response!.serial);
            perReplica[which]!++;
          }
        }),
      );
    } finally {
      clients.forEach((c) => c.close());
    }
    expect(perReplica).toEqual([160, 160]);
    for (const r of replicas) r.kill('SIGTERM');
    expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);

    const v = await cli(['audit', 'verify', '--database-url', db.url, '--dir', dir, '--output', 'json']);
    expect(v.err).toBe('');
    expect(v.code).toBe(0);
    const report = JSON.parse(v.out) as { records: number; checkpoints: number; unprotected: number };
    expect(report.unprotected).toBe(0);
    expect(report.checkpoints).toBeGreaterThanOrEqual(320 / 20);
    expect(report.records).toBe(320 + report.checkpoints + 2); // + each replica's serving certificate
    const store = await openLedgerStore({ databaseUrl: db.url, readOnly: true });
    try {
      const issued = await store.query({ outcome: 'issued', limit: 10_000 });
      expect(new Set(issued.map((r) => r.serial))).toEqual(new Set(received));
    } finally {
      await store.close();
    }
  });
});

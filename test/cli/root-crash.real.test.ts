// `castellan root prepare --config` against a CA whose state is in Kubernetes, SIGKILLed at each
// failpoint of the transition: the Secret is always either the old or the new state, the retry finishes
// the step, the record reaches the ledger, audit verify passes (docs/kubernetes.md).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { initCa, kubernetesStore, loadCa, openLedgerStore, type CaStore } from '../../ca/index.js';
import { loadKubeConfig, TrustDomain } from '../../workload-identity/index.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';
import { STORE_RULES } from '../k8s/real/castellan-rbac.js';
import { sharedApiServer } from '../k8s/real/index.js';

const api = sharedApiServer();
const ENTRY = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'helpers', 'cli-process.ts');

describe.skipIf(api === undefined)('root prepare killed at each failpoint, with the CA state in Kubernetes', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  const stores: CaStore[] = [];
  beforeAll(() => {
    t = tempDir();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    t?.cleanup();
  });

  for (const point of ['before-commit', 'after-commit', 'after-ledger'] as const) {
    it(`ok/killed ${point}: the Secret is the old or the new state, the retry completes, one record, audit verify passes`, async () => {
      const ns = await k.createNamespace('castellan-crash');
      await k.createServiceAccount(ns, 'castellan-ca');
      await k.grant('castellan-ca-store', { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' }, STORE_RULES, ns);
      const kubeconfig = k.writeKubeconfig(path.join(t.dir, `${ns}.kubeconfig`), { token: await k.requestToken(ns, 'castellan-ca') });
      const store = kubernetesStore({ kubeConfig: await loadKubeConfig(kubeconfig), namespace: ns });
      stores.push(store);
      await initCa({ store, trustDomain: TrustDomain.of('cluster.local') });
      const ledgerFile = path.join(t.dir, `${ns}-ledger.db`);
      const config = path.join(t.dir, `${ns}.yaml`);
      writeFileSync(config, toYaml({ trustDomain: 'cluster.local', store: { kubernetes: { namespace: ns, kubeconfig } }, ledger: { path: ledgerFile } }));

      const killed = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, 'root', 'prepare', '--config', config], {
        encoding: 'utf8',
        env: { ...process.env, CASTELLAN_FAILPOINT: point },
      });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const after = await loadCa(store);
      expect(after.prepared !== undefined).toBe(point !== 'before-commit');
      const again = await cli(['root', 'prepare', '--config', config]);
      if (point === 'before-commit') {
        expect(again.code, again.err).toBe(0);
      } else {
        expect(after.pendingRecords.map((r) => r.event)).toEqual(['root-prepared']);
        expect(again.err).toContain('wrote 1 lifecycle record(s) a previous step left pending');
        expect(again.code).toBe(1);
        expect(again.err).toContain('is already prepared');
      }
      const ca = await loadCa(store);
      expect(ca.authorities.filter((a) => a.state === 'prepared')).toHaveLength(1);
      expect(ca.pendingRecords).toEqual([]);
      const ledger = await openLedgerStore({ sqliteFile: ledgerFile, readOnly: true });
      try {
        const events = (await ledger.scan(0, 1000)).filter((r) => r.type === 'lifecycle').map((r) => r.event);
        // after-ledger: the record reached the ledger before the kill and again from the retry (at least once, same transition id).
        expect(events.filter((e) => e === 'root-prepared')).toHaveLength(point === 'after-ledger' ? 2 : 1);
      } finally {
        await ledger.close();
      }
      expect((await cli(['audit', 'verify', '--config', config])).code).toBe(0);
    }, 60_000);
  }
});

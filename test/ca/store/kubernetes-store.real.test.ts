// The CA state in Kubernetes (docs/kubernetes.md) against a real kube-apiserver, reached with the CA service
// account's own least-privilege RBAC (the rules the Helm chart grants): Secret store with resourceVersion
// commits, watch, witness and agent reports in ConfigMaps, the cacerts import, Lease leader election.
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCacerts, initCa, kubernetesStore, LeaderElection, loadCa, prepareRoot, rotateIntermediate, type CaStore, type LedgerRecord } from '../../../ca/index.js';
import { loadKubeConfig, TrustDomain } from '../../../workload-identity/index.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';
import { STORE_RULES } from '../../k8s/real/castellan-rbac.js';
import { sharedApiServer } from '../../k8s/real/index.js';

const api = sharedApiServer();
const td = TrustDomain.of('cluster.local');

describe.skipIf(api === undefined)('CA state in Kubernetes against a real kube-apiserver', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  let ns: string;
  let kc: KubeConfig;
  const stores: CaStore[] = [];
  const storeIn = (namespace = ns) => {
    const s = kubernetesStore({ kubeConfig: kc, namespace });
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    t = tempDir();
    ns = await k.createNamespace('castellan-store');
    await k.createServiceAccount(ns, 'castellan-ca');
    const sa = { kind: 'ServiceAccount' as const, namespace: ns, name: 'castellan-ca' };
    await k.grant('castellan-ca-store', sa, STORE_RULES, ns);
    const kubeconfig = k.writeKubeconfig(path.join(t.dir, 'kubeconfig'), { token: await k.requestToken(ns, 'castellan-ca') });
    kc = await loadKubeConfig(kubeconfig);
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    t?.cleanup();
  });

  it("ok/a CA created in the Secret loads back the same, with only the CA service account's own rights", async () => {
    const store = storeIn();
    expect(await store.read()).toBeUndefined();
    const created = await initCa({ store, trustDomain: td });
    const loaded = await loadCa(store);
    expect(loaded.active.issuer.der.equals(created.active.issuer.der)).toBe(true);
    expect(loaded.bundle.map((c) => c.serialHex)).toEqual([created.active.root.serialHex]);
    const secret = await k.get<{ data: Record<string, string>; metadata: { labels: Record<string, string> } }>(`/api/v1/namespaces/${ns}/secrets/castellan-ca`);
    expect(Object.keys(secret!.data).sort()).toEqual(
      [
        'authority-1.ca-cert.pem',
        'authority-1.ca-key.pem',
        'authority-1.cert-chain.pem',
        'authority-1.jwt-key.pem',
        'authority-1.root-cert.pem',
        'authority-1.root-key.pem',
        'bundle.pem',
        'ca.json',
      ].sort(),
    );
    // The slot's JWT-SVID key (docs/jwt-svid.md) loads back with the slot.
    expect(loaded.active.jwtKey?.keyId).toBe(created.active.jwtKey?.keyId);
    expect(loaded.active.jwtKey?.keyId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secret!.metadata.labels['app.kubernetes.io/managed-by']).toBe('castellan');
    // A second create is refused as a conflict: two replicas starting at once never make two roots.
    await expect(initCa({ store: storeIn(), trustDomain: td })).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect((await loadCa(store)).active.root.serialHex).toBe(created.active.root.serialHex);
  });

  it('ok/two replicas rotating the same intermediate at once: one commit wins, the other finds it done; no fork', async () => {
    const a = storeIn();
    const b = storeIn();
    const before = await loadCa(a);
    const serial = before.active.issuer.serialHex;
    const results = await Promise.allSettled([
      rotateIntermediate({ store: a }, { reason: 'test', expectIssuerSerial: serial }),
      rotateIntermediate({ store: b }, { reason: 'test', expectIssuerSerial: serial }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({ code: 'ERR_ROTATION_STATE', context: { alreadyRotated: true } });
    const after = await loadCa(a);
    expect(after.authorities.map((x) => x.id)).toEqual([...before.authorities.map((x) => x.id), before.authorities.length + 1]);
    expect(after.active.record.rootOf).toBe(1);
  });

  it('ok/two concurrent root prepares: exactly one prepared root exists afterwards', async () => {
    const results = await Promise.allSettled([prepareRoot({ store: storeIn() }), prepareRoot({ store: storeIn() })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_ROTATION_STATE' });
    const ca = await loadCa(storeIn());
    expect(ca.authorities.filter((x) => x.state === 'prepared')).toHaveLength(1);
    expect(ca.bundle).toHaveLength(2);
  });

  it('ok/a replica watching the Secret hears of a commit by another at once', async () => {
    const watcher = storeIn();
    let changes = 0;
    const errors: Error[] = [];
    const stop = watcher.watch(
      () => changes++,
      (e) => errors.push(e),
    );
    try {
      await until(() => changes >= 1, 'the first look after the watch starts');
      const seen = changes;
      const version = (await watcher.read())!.version;
      // Another replica commits (a state-only change: the pending records flush path).
      const other = storeIn();
      const snap = (await other.read())!;
      await other.commit(snap, { state: { ...snap.state, reissueSpreadSeconds: 7 }, add: new Map(), bundlePem: (await loadCa(other)).bundle.map((c) => c.pem).join('') });
      await until(() => changes > seen, 'a watch event for the commit', 5_000);
      expect((await watcher.read())!.version).not.toBe(version);
      expect(errors).toEqual([]);
    } finally {
      stop();
    }
  });

  it('fail/a Secret edited by hand into an inconsistent state is refused with what is missing, and commits against a stale version conflict', async () => {
    const store = storeIn();
    const snap = (await store.read())!;
    const raw = await k.get<{ data: Record<string, string>; metadata: Record<string, unknown> }>(`/api/v1/namespaces/${ns}/secrets/castellan-ca`);
    const broken = { ...raw!, data: { ...raw!.data } };
    delete broken.data['authority-2.ca-key.pem'];
    await k.call('PUT', `/api/v1/namespaces/${ns}/secrets/castellan-ca`, broken);
    await expect(loadCa(store)).rejects.toMatchObject({ code: 'ERR_CA_DIR', message: expect.stringContaining('authority-2.ca-key.pem') });
    // The commit a replica computed from the old snapshot cannot land on the edited Secret.
    await expect(store.commit(snap, { state: snap.state, add: new Map(), bundlePem: '' })).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    // Put it back: the rest of this file needs the CA.
    await k.call('PUT', `/api/v1/namespaces/${ns}/secrets/castellan-ca`, { ...raw!, metadata: { ...raw!.metadata, resourceVersion: undefined } });
    expect((await loadCa(store)).trustDomain.toString()).toBe('cluster.local');
  });

  it('ok/the ledger head witness lives in a ConfigMap and never moves backwards', async () => {
    const w = storeIn().witness;
    const checkpoint = (seq: number) => ({ seq, type: 'checkpoint', hash: seq.toString(16).padStart(64, '0') }) as unknown as LedgerRecord;
    expect(await w.read()).toBeUndefined();
    expect((await w.advance(checkpoint(5))).checkpoint.seq).toBe(5);
    expect((await w.advance(checkpoint(3))).checkpoint.seq).toBe(5);
    expect((await w.advance(checkpoint(9))).checkpoint.seq).toBe(9);
    expect((await storeIn().witness.read())!.checkpoint.seq).toBe(9);
    expect(w.location).toBe(`configmap ${ns}/castellan-ca-ledger-head`);
  });

  it('ok/agent reports: one ConfigMap per replica, listed together, stale ones pruned', async () => {
    const r = storeIn().agentReports;
    const report = (replica: string, writtenAt: string) => ({
      format: 1 as const,
      replica,
      writtenAt,
      agents: [{ agentId: 'node-1', identity: 'spiffe://cluster.local/ns/x/sa/y', sequence: 3, lastSeen: writtenAt, connected: true, peer: 'p' }],
    });
    await r.publish(report('castellan-7d9f-abc', new Date().toISOString()));
    await r.publish(report('Old_Replica.1', '2020-01-01T00:00:00.000Z'));
    expect((await r.all()).map((x) => x.replica).sort()).toEqual(['Old_Replica.1', 'castellan-7d9f-abc']);
    expect((await r.own('castellan-7d9f-abc'))?.agents[0]?.sequence).toBe(3);
    expect(await r.prune(new Date(Date.now() - 3_600_000))).toBe(1);
    expect((await r.all()).map((x) => x.replica)).toEqual(['castellan-7d9f-abc']);
  });

  it('ok/an Istio cacerts Secret is imported as the CA (plugged-in CA), checked like a cacerts directory', async () => {
    const other = await k.createNamespace('castellan-cacerts');
    const src = await initCa({ dir: path.join(t.dir, 'src'), trustDomain: td });
    const stored = await src.snapshot.authority(1);
    const data = {
      'ca-cert.pem': stored.caCertPem,
      'ca-key.pem': stored.caKey.kind === 'pem' ? stored.caKey.pem : '',
      'cert-chain.pem': stored.certChainPem,
      'root-cert.pem': stored.rootCertPem,
    };
    await k.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: other }, stringData: data });
    const admin = await loadKubeConfig(k.adminKubeconfigPath);
    const store = kubernetesStore({ kubeConfig: admin, namespace: other });
    stores.push(store);
    const ca = await importCacerts({
      store,
      material: {
        caCertPem: data['ca-cert.pem'],
        caKeyPem: data['ca-key.pem'],
        certChainPem: data['cert-chain.pem'],
        rootCertPem: data['root-cert.pem'],
        source: `secret ${other}/cacerts`,
      },
    });
    expect(ca.active.source).toBe('cacerts');
    expect(ca.active.issuer.serialHex).toBe(src.active.issuer.serialHex);
    // A cacerts whose key does not match is refused, naming the Secret.
    const wrong = await initCa({ dir: path.join(t.dir, 'wrong'), trustDomain: td });
    const wrongKey = (await wrong.snapshot.authority(1)).caKey;
    await expect(
      importCacerts({
        store: storeIn(other),
        material: {
          caCertPem: data['ca-cert.pem'],
          caKeyPem: wrongKey.kind === 'pem' ? wrongKey.pem : '',
          certChainPem: data['cert-chain.pem'],
          rootCertPem: data['root-cert.pem'],
          source: `secret ${other}/cacerts`,
        },
      }),
    ).rejects.toMatchObject({ code: 'ERR_CACERTS', message: expect.stringContaining(`secret ${other}/cacerts`) });
  });

  it('ok/Lease election: exactly one of three replicas leads; when it dies without releasing, another leads within the lease duration', async () => {
    const { log, lines } = memoryLog();
    const make = (identity: string) => new LeaderElection({ kubeConfig: kc, namespace: ns, identity, leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250, log });
    const names = ['ca-0', 'ca-1', 'ca-2'];
    const replicas = names.map(make);
    for (const r of replicas) r.start();
    try {
      await until(() => replicas.some((r) => r.isLeader()), 'a leader', 10_000).catch((e: Error) => {
        throw new Error(`${e.message}; log: ${lines.join('')}`);
      });
      // Several rounds later there is still exactly one.
      await new Promise((r) => setTimeout(r, 1_000));
      const leaders = replicas.filter((r) => r.isLeader());
      expect(leaders).toHaveLength(1);
      const dead = leaders[0]!;
      // A crash: it stops renewing, and does not release the lease (stop() would).
      (dead as unknown as { stopped: boolean }).stopped = true;
      const diedAt = Date.now();
      await until(() => replicas.some((r) => r !== dead && r.isLeader()), 'a new leader', 10_000);
      const tookMs = Date.now() - diedAt;
      expect(tookMs).toBeLessThan(3_000 + 2_000);
      const lease = await k.get<{ spec: { holderIdentity: string; leaseTransitions: number } }>(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/castellan-leader`);
      expect(lease!.spec.holderIdentity).not.toBe(names[replicas.indexOf(dead)]);
      expect(lease!.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
    } finally {
      for (const r of replicas) await r.stop();
    }
  });
});

// Federated bundles and JWT keys in the Kubernetes store (docs/federation.md, docs/jwt-svid.md) against a
// real kube-apiserver, with the CA service account's own least-privilege RBAC: both live in the state
// Secret, committed with resourceVersion, and a second replica's store reads them back.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFederationChange, initCa, kubernetesStore, loadCa, publishedJwtAuthorities, storedFederatedBundles, type CaStore } from '../../../ca/index.js';
import { loadKubeConfig, parseSpiffeBundle, TrustDomain } from '../../../workload-identity/index.js';
import { tempDir } from '../../helpers/test-ca.js';
import { STORE_RULES } from '../../k8s/real/castellan-rbac.js';
import { sharedApiServer } from '../../k8s/real/index.js';

const api = sharedApiServer();

describe.skipIf(api === undefined)('federation and JWT keys in the Kubernetes store', () => {
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

  it('ok/a federated bundle committed by one replica is read back by another, with a new bundle sequence; the JWT key loads from the Secret', async () => {
    const ns = await k.createNamespace('castellan-fed');
    await k.createServiceAccount(ns, 'castellan-ca');
    await k.grant('castellan-ca-store', { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' }, STORE_RULES, ns);
    const kc = await loadKubeConfig(k.writeKubeconfig(path.join(t.dir, 'kubeconfig'), { token: await k.requestToken(ns, 'castellan-ca') }));
    const a = kubernetesStore({ kubeConfig: kc, namespace: ns });
    const b = kubernetesStore({ kubeConfig: kc, namespace: ns });
    stores.push(a, b);
    const created = await initCa({ store: a, trustDomain: TrustDomain.of('cluster.local') });
    const other = await initCa({ dir: path.join(t.dir, 'other'), trustDomain: TrustDomain.of('other.test') });
    const bundle = parseSpiffeBundle(
      TrustDomain.of('other.test'),
      JSON.stringify({ keys: [{ use: 'x509-svid', x5c: [other.bundle[0]!.der.toString('base64')] }], spiffe_sequence: 9 }),
    );
    expect(await commitFederationChange(a, { kind: 'set', bundle, source: 'endpoint', endpoint: 'https://other.example/' }, undefined, new Date())).toBe(true);
    // The same bundle again commits nothing.
    expect(await commitFederationChange(a, { kind: 'set', bundle, source: 'endpoint' }, undefined, new Date())).toBe(false);
    const seen = await loadCa(b);
    expect(seen.bundleSequence).toBe(created.bundleSequence + 1);
    const fed = storedFederatedBundles(seen.snapshot.state);
    expect(fed.map((f) => [f.bundle.trustDomain.name, f.bundle.sequence, f.stored.source])).toEqual([['other.test', 9, 'endpoint']]);
    expect(publishedJwtAuthorities(seen).map((x) => x.keyId)).toEqual([created.active.jwtKey!.keyId]);
    expect(seen.pendingRecords.map((r) => r.event)).toEqual(['federated-bundle-updated']);
  });
});

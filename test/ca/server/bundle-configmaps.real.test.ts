// BundleConfigMapPublisher against a real kube-apiserver, with RBAC as tight as the chart's (docs/testing.md).
// Other test files share the server: the publisher may write only this file's namespaces, so every other
// namespace is a (403) failure of its pass, and the assertions look at this file's namespaces only.
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateInfo } from '../../../ca/index.js';
import { BUNDLE_CONFIGMAP_KEY, BUNDLE_CONFIGMAP_NAME, BundleConfigMapPublisher } from '../../../ca/server/bundle-configmaps.js';
import { TrustBundleSource } from '../../../ca/server/trust-bundle-source.js';
import { loadKubeConfig } from '../../../workload-identity/index.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { tempDir, testCa } from '../../helpers/test-ca.js';
import { sharedApiServer, type PolicyRule, type RbacSubject } from '../../k8s/real/index.js';

const api = sharedApiServer();

interface ConfigMap {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string };
  data?: Record<string, string>;
}

describe.skipIf(api === undefined)('BundleConfigMapPublisher against a real kube-apiserver', () => {
  const k = api!;
  const cleanups: (() => void)[] = [];
  let rootsA: readonly CertificateInfo[];
  let rootsB: readonly CertificateInfo[];
  let home: string;
  let apps: string;
  let foreign: string;
  let publisherSa: RbacSubject & { kind: 'ServiceAccount' };
  let kubeconfig: string;
  const noTimers = { setTimeout: () => 0, clearTimeout: () => undefined };
  const ours = (ns: string) => k.get<ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${BUNDLE_CONFIGMAP_NAME}`);

  /** What the publisher needs in a namespace it writes: create (which RBAC cannot pin to a name) and get/update of its ConfigMap. */
  const namespaceRules: PolicyRule[] = [
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'update'], resourceNames: [BUNDLE_CONFIGMAP_NAME] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
  ];

  beforeAll(async () => {
    const a = await testCa({ trustDomain: 'cluster.local' });
    const b = await testCa({ trustDomain: 'cluster.local' });
    const t = tempDir();
    cleanups.push(a.cleanup, b.cleanup, t.cleanup);
    rootsA = a.ca.bundle;
    rootsB = b.ca.bundle;
    home = await k.createNamespace('bundle-cm');
    apps = await k.createNamespace('bundle-cm-apps');
    foreign = await k.createNamespace('bundle-cm-foreign');
    publisherSa = { kind: 'ServiceAccount', namespace: home, name: 'castellan-ca' };
    await k.createServiceAccount(home, publisherSa.name);
    // Cluster-wide: list namespaces, and list only ConfigMaps of our name (fieldSelector=metadata.name).
    await k.grant(`castellan-bundle-${home}`, publisherSa, [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['list'], resourceNames: [BUNDLE_CONFIGMAP_NAME] },
    ]);
    for (const ns of [home, apps, foreign]) await k.grant('castellan-bundle', publisherSa, namespaceRules, ns);
    kubeconfig = k.writeKubeconfig(path.join(t.dir, 'kubeconfig'), { token: await k.requestToken(home, publisherSa.name) });
    // Someone else's ConfigMap of that name: never touched.
    await k.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: BUNDLE_CONFIGMAP_NAME, namespace: foreign }, data: { mine: 'yes' } });
  });
  afterAll(async () => {
    await k.deleteObject('ClusterRoleBinding', `castellan-bundle-${home}`);
    await k.deleteObject('ClusterRole', `castellan-bundle-${home}`);
    cleanups.forEach((c) => c());
  });

  it('ok/RBAC: a list with fieldSelector=metadata.name is authorized by resourceNames; create cannot be pinned to a name', async () => {
    const asPublisher = { token: await k.requestToken(home, publisherSa.name) };
    const list = await k.raw('GET', `/api/v1/configmaps?fieldSelector=metadata.name%3D${BUNDLE_CONFIGMAP_NAME}`, undefined, asPublisher);
    expect(list.status).toBe(200);
    expect((await k.raw('GET', '/api/v1/configmaps', undefined, asPublisher)).status).toBe(403);
    // A Role with create + resourceNames never allows a create (the name is not part of the request).
    await k.grant(
      'create-pinned',
      { kind: 'User', name: 'pinned-creator' },
      [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get'], resourceNames: ['x'] }],
      apps,
    );
    expect(await k.canI({ kind: 'User', name: 'pinned-creator' }, { verb: 'create', resource: 'configmaps', namespace: apps })).toBe(false);
  });

  it('ok/publishes the bundle where RBAC allows, leaves a foreign ConfigMap alone, then follows a bundle change', async () => {
    const source = new TrustBundleSource(rootsA, 3);
    const logged = memoryLog();
    const p = new BundleConfigMapPublisher({ kubeConfig: await loadKubeConfig(kubeconfig), bundle: source, timers: noTimers, log: logged.log });
    try {
      const first = await p.start();
      expect(first.created).toEqual(expect.arrayContaining([home, apps]));
      expect(first.foreign).toEqual([foreign]);
      // Namespaces of other tests (and kube-system) are forbidden to it: failures of the pass, nothing written.
      expect(first.failed).toContain('kube-system');
      expect(first.failed).not.toEqual(expect.arrayContaining([home]));
      expect(await ours('kube-system')).toBeUndefined();
      for (const ns of [home, apps]) {
        const cm = (await ours(ns))!;
        expect(cm.data).toEqual({ [BUNDLE_CONFIGMAP_KEY]: source.current().pem });
        expect(cm.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'castellan' });
        expect(cm.metadata.annotations).toMatchObject({ 'castellan.io/bundle-sequence': '3' });
      }
      expect(new X509Certificate((await ours(home))!.data![BUNDLE_CONFIGMAP_KEY]!).fingerprint256).toBe(new X509Certificate(rootsA[0]!.pem).fingerprint256);
      expect((await ours(foreign))!.data).toEqual({ mine: 'yes' });
      // The cluster-wide list by name was allowed: no fallback to one GET per namespace.
      expect(logged.lines.join('')).not.toMatch(/reading each namespace instead/);

      const written = p.stats.namespacesWritten;
      // The publisher follows the bundle by subscription; wait for that pass.
      expect(source.update([...rootsA, ...rootsB]).sequence).toBe(4);
      await p.idle();
      expect(p.stats.lastPassSequence).toBe(4);
      expect(p.stats.namespacesWritten - written).toBe(2);
      for (const ns of [home, apps]) {
        const cm = (await ours(ns))!;
        expect(cm.data).toEqual({ [BUNDLE_CONFIGMAP_KEY]: rootsA[0]!.pem + rootsB[0]!.pem });
        expect(cm.metadata.annotations).toMatchObject({ 'castellan.io/bundle-sequence': '4' });
      }
      // Nothing to change: no write.
      const again = await p.resync();
      expect(again.created.length + again.replaced.length).toBe(0);
      expect(again.unchanged).toBe(2);
    } finally {
      await p.stop();
    }
  });
});

import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCa } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { testCaServer } from '../helpers/ca-server.js';
import { tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';
import { until } from '../helpers/until.js';

let t: ReturnType<typeof tempDir>;
let api: KubernetesApiStandIn;
let ca: Awaited<ReturnType<typeof testCaServer>> | undefined;
beforeEach(async () => {
  t = tempDir();
  api = await KubernetesApiStandIn.start();
  for (const ns of ['shop', 'web']) api.addNamespace(ns);
});
afterEach(async () => {
  await ca?.server.shutdown(100);
  ca = undefined;
  await api.close();
  t.cleanup();
});


describe('trust bundle in a ConfigMap in every namespace (castellan ca serve with distribution.configMaps)', () => {
  it('ok/written at start and rewritten in every namespace when castellan root prepare and retire change the bundle', async () => {
    const dir = path.join(t.dir, 'ca');
    expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
    const kubeconfig = path.join(t.dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
    ca = await testCaServer(dir, { rotation: { reloadInterval: 100 }, distribution: { configMaps: { enabled: true, kubeconfig, excludeNamespaces: ['kube-system'] } } }, true);
    const namespaces = ['default', 'shop', 'web'];
    const pemIn = (ns: string) => api.configMap(ns, 'castellan-root-cert')?.data?.['root-cert.pem'];
    const seqIn = (ns: string) => api.configMap(ns, 'castellan-root-cert')?.metadata.annotations?.['castellan.io/bundle-sequence'];
    const bundle = async () => (await loadCa(dir)).bundle.map((r) => r.pem).join('');

    let want = await bundle();
    await until(() => namespaces.every((ns) => pemIn(ns) === want && seqIn(ns) === '1'), 'every namespace holds bundle 1', 20_000);
    expect(api.configMap('kube-system', 'castellan-root-cert')).toBeUndefined();
    expect(api.configMap('shop', 'castellan-root-cert')?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('castellan');

    expect((await cli(['root', 'prepare', '--dir', dir])).code).toBe(0);
    want = await bundle();
    await until(() => namespaces.every((ns) => pemIn(ns) === want && seqIn(ns) === '2'), 'every namespace holds bundle 2 (two roots)', 20_000);
    expect(want.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);

    expect((await cli(['root', 'activate', '--dir', dir, '--force'])).code).toBe(0);
    expect((await cli(['root', 'retire', '--dir', dir])).code).toBe(0);
    want = await bundle();
    await until(() => namespaces.every((ns) => pemIn(ns) === want && seqIn(ns) === '4'), 'every namespace holds bundle 4 (the new root only)', 20_000);
    expect(want.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
  }, 60_000);
});

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

describe('Istio mode: istio-ca-root-cert beside castellan-root-cert (distribution.configMaps name, key, additional)', () => {
  it('ok/both ConfigMaps in every namespace, each under its configured key, follow a root prepare', async () => {
    const dir = path.join(t.dir, 'ca');
    expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
    const kubeconfig = path.join(t.dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
    ca = await testCaServer(
      dir,
      { rotation: { reloadInterval: 100 }, distribution: { configMaps: { enabled: true, kubeconfig, key: 'ca.crt', additional: [{ name: 'istio-ca-root-cert' }] } } },
      true,
    );
    const namespaces = ['default', 'shop', 'web'];
    const bundle = async () => (await loadCa(dir)).bundle.map((r) => r.pem).join('');
    const holds = (want: string, seq: string) => (ns: string) =>
      api.configMap(ns, 'castellan-root-cert')?.data?.['ca.crt'] === want &&
      api.configMap(ns, 'istio-ca-root-cert')?.data?.['root-cert.pem'] === want &&
      api.configMap(ns, 'istio-ca-root-cert')?.metadata.annotations?.['castellan.io/bundle-sequence'] === seq;
    let want = await bundle();
    await until(() => namespaces.every(holds(want, '1')), 'every namespace holds both ConfigMaps with bundle 1', 20_000);
    expect(Object.keys(api.configMap('shop', 'castellan-root-cert')?.data ?? {})).toEqual(['ca.crt']);
    expect(Object.keys(api.configMap('shop', 'istio-ca-root-cert')?.data ?? {})).toEqual(['root-cert.pem']);

    expect((await cli(['root', 'prepare', '--dir', dir])).code).toBe(0);
    want = await bundle();
    await until(() => namespaces.every(holds(want, '2')), 'every namespace holds both ConfigMaps with bundle 2', 20_000);
  }, 60_000);

  it('ok/an istio-ca-root-cert that istiod wrote (no managed-by label) is left alone', async () => {
    const dir = path.join(t.dir, 'ca');
    expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
    const kubeconfig = path.join(t.dir, 'kubeconfig');
    api.writeKubeconfig(kubeconfig);
    api.putConfigMap('shop', { metadata: { name: 'istio-ca-root-cert', labels: { 'istio.io/config': 'true' } }, data: { 'root-cert.pem': 'istiod root\n' } });
    ca = await testCaServer(dir, { distribution: { configMaps: { enabled: true, kubeconfig, name: 'istio-ca-root-cert' } } }, true);
    const want = await bundle(dir);
    await until(() => ['default', 'web'].every((ns) => api.configMap(ns, 'istio-ca-root-cert')?.data?.['root-cert.pem'] === want), 'the other namespaces hold the bundle', 20_000);
    expect(api.configMap('shop', 'istio-ca-root-cert')?.data?.['root-cert.pem']).toBe('istiod root\n');
    expect(api.configMap('shop', 'castellan-root-cert')).toBeUndefined();
  }, 60_000);
});

async function bundle(dir: string): Promise<string> {
  return (await loadCa(dir)).bundle.map((r) => r.pem).join('');
}

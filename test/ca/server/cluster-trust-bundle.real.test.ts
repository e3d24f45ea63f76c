// ClusterTrustBundlePublisher against a real kube-apiserver v1.34 (docs/kubernetes.md): its own API server
// with the ClusterTrustBundle feature gate and certificates.k8s.io/v1beta1 enabled; RBAC as tight as the
// docs say (the `attest` verb on the signer name); the shared API server (no such API) for the fallback.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateInfo } from '../../../ca/index.js';
import { ClusterTrustBundlePublisher, clusterTrustBundleName, defaultSignerName } from '../../../ca/server/cluster-trust-bundle.js';
import { TrustBundleSource } from '../../../ca/server/trust-bundle-source.js';
import { loadKubeConfig } from '../../../workload-identity/index.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { tempDir, testCa } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';
import { sharedApiServer, startRealApiServer, type PolicyRule, type RealApiClient, type RealApiServer, type RbacSubject } from '../../k8s/real/index.js';

const shared = sharedApiServer();
const SIGNER = 'castellan.io/cluster.local';
const NAME = clusterTrustBundleName(SIGNER);

interface Ctb {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { signerName: string; trustBundle: string };
}

const ctbRules = (attest: boolean): PolicyRule[] => [
  { apiGroups: ['certificates.k8s.io'], resources: ['clustertrustbundles'], verbs: ['list'] },
  { apiGroups: ['certificates.k8s.io'], resources: ['clustertrustbundles'], verbs: ['get', 'update'], resourceNames: [NAME] },
  { apiGroups: ['certificates.k8s.io'], resources: ['clustertrustbundles'], verbs: ['create'] },
  ...(attest ? [{ apiGroups: ['certificates.k8s.io'], resources: ['signers'], verbs: ['attest'], resourceNames: [SIGNER] }] : []),
];

describe.skipIf(shared === undefined)('ClusterTrustBundle against a real kube-apiserver', () => {
  let server: RealApiServer;
  let t: ReturnType<typeof tempDir>;
  let roots: [readonly CertificateInfo[], readonly CertificateInfo[]];
  const cleanups: (() => void)[] = [];
  const publishers: ClusterTrustBundlePublisher[] = [];

  async function publisherFor(k: RealApiClient, attest: boolean, source: TrustBundleSource, tag: string) {
    const ns = await k.createNamespace(`ctb-${tag}`);
    const sa: RbacSubject & { kind: 'ServiceAccount' } = { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' };
    await k.createServiceAccount(ns, sa.name);
    await k.grant(`castellan-ctb-${tag}`, sa, ctbRules(attest));
    const kubeconfig = k.writeKubeconfig(path.join(t.dir, `kubeconfig-${tag}`), { token: await k.requestToken(ns, sa.name) });
    const { log, lines } = memoryLog();
    const p = new ClusterTrustBundlePublisher({ kubeConfig: await loadKubeConfig(kubeconfig), bundle: source, signerName: SIGNER, resyncMs: 3_600_000, log });
    publishers.push(p);
    return { p, lines };
  }

  beforeAll(async () => {
    t = tempDir();
    const a = await testCa({ trustDomain: 'cluster.local' });
    const b = await testCa({ trustDomain: 'cluster.local' });
    cleanups.push(a.cleanup, b.cleanup, t.cleanup);
    roots = [a.ca.bundle, [...a.ca.bundle, ...b.ca.bundle]];
    server = await startRealApiServer({ extraArgs: ['--feature-gates=ClusterTrustBundle=true', '--runtime-config=certificates.k8s.io/v1beta1/clustertrustbundles=true'] });
  }, 200_000);
  afterAll(async () => {
    for (const p of publishers) await p.stop();
    await server?.stop();
    for (const c of cleanups) c();
  });

  it('ok/the default signer name is castellan.io/<trust domain>; a trust domain with "_" has none', () => {
    expect(defaultSignerName('cluster.local')).toBe(SIGNER);
    expect(defaultSignerName('my_domain.test')).toBeUndefined();
    expect(NAME).toBe('castellan.io:cluster.local:bundle');
  });

  it('fail/without the attest verb on the signer the API refuses (403); the error names the missing rule; nothing is created', async () => {
    const { p, lines } = await publisherFor(server, false, new TrustBundleSource(roots[0], 1), 'noattest');
    await p.start();
    expect(p.api).toBe('v1beta1');
    expect(lines.some((l) => l.includes('HTTP 403') && l.includes('not permitted to attest') && l.includes('on signers'))).toBe(true);
    expect(await server.get(`/apis/certificates.k8s.io/v1beta1/clustertrustbundles/${NAME}`)).toBeUndefined();
  });

  it('ok/with attest: created with the signer name and the bundle; updated on the next bundle; recreated after a delete', async () => {
    const source = new TrustBundleSource(roots[0], 1);
    const { p } = await publisherFor(server, true, source, 'attest');
    await p.start();
    const ctb = () => server.get<Ctb>(`/apis/certificates.k8s.io/v1beta1/clustertrustbundles/${NAME}`);
    let got = await ctb();
    expect(got!.spec.signerName).toBe(SIGNER);
    expect(got!.spec.trustBundle).toBe(roots[0].map((r) => r.pem).join(''));
    expect(got!.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('castellan');
    // A root rotation: the prepared root joins the bundle (next sequence): the object follows.
    source.replace({ sequence: 2, roots: roots[1] });
    await until(async () => (await ctb())?.spec.trustBundle === roots[1].map((r) => r.pem).join(''), 'the updated ClusterTrustBundle');
    got = await ctb();
    expect(got!.metadata.annotations?.['castellan.io/bundle-sequence']).toBe('2');
    await server.call('DELETE', `/apis/certificates.k8s.io/v1beta1/clustertrustbundles/${NAME}`);
    await p.sync();
    expect((await ctb())?.spec.trustBundle).toBe(roots[1].map((r) => r.pem).join(''));
    // A publisher still holding an older bundle (a stale replica) never moves it backwards.
    const { p: stale } = await publisherFor(server, true, new TrustBundleSource(roots[0], 1), 'stale');
    await stale.start();
    expect((await ctb())?.metadata.annotations?.['castellan.io/bundle-sequence']).toBe('2');
  });

  it('ok/a CA server configured with distribution.clusterTrustBundle publishes its bundle (leader only)', async () => {
    await server.call('DELETE', `/apis/certificates.k8s.io/v1beta1/clustertrustbundles/${NAME}`).catch(() => undefined);
    const ns = await server.createNamespace('ctb-ca');
    const sa: RbacSubject & { kind: 'ServiceAccount' } = { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' };
    await server.createServiceAccount(ns, sa.name);
    await server.grant('castellan-ctb-ca', sa, ctbRules(true));
    const kubeconfig = server.writeKubeconfig(path.join(t.dir, 'kubeconfig-ca'), { token: await server.requestToken(ns, sa.name) });
    const c = await testCa({ trustDomain: 'cluster.local' });
    cleanups.push(c.cleanup);
    const { log } = memoryLog();
    const { startCaServer } = await import('../../../ca/index.js');
    const { server: ca } = await startCaServer({
      dir: path.join(c.dir, 'ca'),
      devIssuer: true,
      log,
      config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', distribution: { clusterTrustBundle: { enabled: true, kubeconfig } } },
    });
    try {
      await until(
        async () => (await server.get<Ctb>(`/apis/certificates.k8s.io/v1beta1/clustertrustbundles/${NAME}`))?.spec.trustBundle === ca.trustBundle.current().pem,
        "the CA's ClusterTrustBundle",
      );
    } finally {
      await ca.shutdown(100);
    }
  });

  it('ok/an API server without ClusterTrustBundle (the shared one): the publisher finds none, logs it once, creates nothing and does not fail', async () => {
    const { p, lines } = await publisherFor(shared!, true, new TrustBundleSource(roots[0], 1), 'old');
    await p.start();
    await p.sync();
    expect(p.api).toBe('none');
    expect(lines.filter((l) => l.includes('serves no certificates.k8s.io ClusterTrustBundle'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('"level":50'))).toBe(false);
  });
});

// The CA server configured as in a cluster, against a real kube-apiserver: JWKS discovery as a pod sees it,
// pod binding, and TokenReview through the kubeconfigs operators write (docs/testing.md).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, type CaServerConfig } from '../../../ca/index.js';
import { TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { tempDir } from '../../helpers/test-ca.js';
import { sharedApiServer, type ObjectRef, type RbacSubject } from '../../k8s/real/index.js';

const OK = 0;
const UNAUTHENTICATED = 16;
const UNAVAILABLE = 14;

const api = sharedApiServer();

describe.skipIf(api === undefined)('CA server against a real kube-apiserver', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  let ns: string;
  let caDir: string;
  let bundlePem: string;
  let ca: RbacSubject & { kind: 'ServiceAccount' };
  let webPod: ObjectRef;
  const file = (name: string) => path.join(t.dir, name);

  /** Starts a CA with `config`, makes one CreateCertificate call with `token`, stops the CA. */
  async function issue(config: CaServerConfig, token: string): Promise<{ code: number; details?: string; lines: string[] }> {
    const s = await testCaServer(caDir, config);
    const client = caClients(s.address, bundlePem);
    try {
      const r = await unary(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem, validityDuration: 600 }, token);
      return { ...r, lines: s.lines };
    } finally {
      client.close();
      await s.server.shutdown(1000);
    }
  }
  const workloadToken = (sa: string, pod: ObjectRef) => k.requestToken(ns, sa, { audiences: ['castellan'], pod });

  beforeAll(async () => {
    t = tempDir();
    ns = await k.createNamespace('ca-server');
    ca = { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' };
    await k.createServiceAccount(ns, ca.name);
    // The CA's RBAC: TokenReview mode needs tokenreviews: create (system:auth-delegator); JWKS mode with
    // pod binding needs get on pods and serviceaccounts; discovery itself is open to any service account.
    await k.bindClusterRole(`castellan-ca-${ns}-auth-delegator`, 'system:auth-delegator', ca);
    await k.grant(`castellan-ca-${ns}`, ca, [{ apiGroups: [''], resources: ['pods', 'serviceaccounts'], verbs: ['get'] }]);
    // What a pod has on disk: its projected token and the cluster CA.
    writeFileSync(file('token'), await k.requestToken(ns, ca.name), { mode: 0o600 });
    writeFileSync(file('cluster-ca.crt'), k.caPem);
    caDir = file('ca');
    await initCa({ dir: caDir, trustDomain: TrustDomain.of('cluster.local') });
    bundlePem = (await loadCa(caDir)).bundle.map((c) => c.pem).join('');
    await k.createServiceAccount(ns, 'web');
    webPod = await k.createPod(ns, 'web-0', 'web');
  });
  afterAll(async () => {
    await k.deleteObject('ClusterRoleBinding', `castellan-ca-${ns}-auth-delegator`);
    await k.deleteObject('ClusterRoleBinding', `castellan-ca-${ns}`);
    await k.deleteObject('ClusterRole', `castellan-ca-${ns}`);
    t?.cleanup();
  });

  const jwks = (o: { requirePodBinding?: boolean; kubeconfig?: string } = {}): CaServerConfig => ({
    authentication: {
      jwks: {
        issuer: k.saIssuer,
        // In a pod: https://kubernetes.default.svc; kube-apiserver's jwks_uri names its advertise address.
        discoveryUrl: `${k.localhostUrl}/.well-known/openid-configuration`,
        caFile: file('cluster-ca.crt'),
        bearerTokenFile: file('token'),
        ...o,
      },
    },
  });

  it('ok/JWKS mode as in a pod: discovery at the Service name, jwks_uri at the advertise address', async () => {
    const r = await issue(jwks(), await workloadToken('web', webPod));
    expect(r.details).toBeUndefined();
    expect(r.code).toBe(OK);
  });

  it('fail/JWKS mode with pod binding: a service account deleted while its pod still exists gets no certificate', async () => {
    const kubeconfig = k.writeKubeconfig(file('jwks.kubeconfig'), { tokenFile: 'token' });
    await k.createServiceAccount(ns, 'gone');
    const pod = await k.createPod(ns, 'gone-0', 'gone');
    const token = await workloadToken('gone', pod);
    expect((await issue(jwks({ requirePodBinding: true, kubeconfig }), token)).code).toBe(OK);
    await k.deleteServiceAccount(ns, 'gone');
    expect((await issue(jwks({ requirePodBinding: true, kubeconfig }), token)).code).toBe(UNAUTHENTICATED);
  });

  it('ok/TokenReview mode with a kubeconfig whose user has the standard tokenFile field (relative to the kubeconfig)', async () => {
    const kubeconfig = k.writeKubeconfig(file('tokenreview.kubeconfig'), { tokenFile: 'token' });
    const r = await issue({ authentication: { tokenReview: { kubeconfig } } }, await workloadToken('web', webPod));
    expect(r.details).toBeUndefined();
    expect(r.code).toBe(OK);
    expect(r.lines.join('')).toMatch(/with a token-file/);
  });

  it('fail/TokenReview mode with a kubeconfig that yields no credential: UNAVAILABLE, and the log says to fix the kubeconfig, not RBAC', async () => {
    const kubeconfig = k.writeKubeconfig(file('anonymous.kubeconfig'), {});
    const r = await issue({ authentication: { tokenReview: { kubeconfig } } }, await workloadToken('web', webPod));
    expect(r.code).toBe(UNAVAILABLE);
    const log = r.lines.join('');
    expect(log).toMatch(/no credential/);
    expect(log).toMatch(/system:anonymous/);
    expect(log).not.toMatch(/grant \\"tokenreviews: create\\"/);
  });
});

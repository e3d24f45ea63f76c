// JwksAuthenticator against a real kube-apiserver: discovery as a pod sees it (the discovery document at
// one origin names a jwks_uri at another), pod binding, and the checks TokenReview makes that local
// verification must make too (docs/testing.md).
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksAuthenticator, TokenReviewAuthenticator, TrustDomain, kubernetesPodLookup, type JwksAuthenticatorOptions } from '../../workload-identity/index.js';
import { asyncCodeOf, failureOf } from '../helpers/error-code.js';
import { tempDir } from '../helpers/test-ca.js';
import { sharedApiServer, serviceAccountUser, type ObjectRef, type RbacSubject } from '../k8s/real/index.js';

const api = sharedApiServer();
const td = TrustDomain.of('cluster.local');

describe.skipIf(api === undefined)('JwksAuthenticator against a real kube-apiserver', () => {
  const k = api!;
  let ns: string;
  let ca: RbacSubject & { kind: 'ServiceAccount' };
  let caToken: string;
  let kc: KubeConfig;
  let tokenReview: TokenReviewAuthenticator;
  let pod: ObjectRef;
  let tmp: ReturnType<typeof tempDir>;

  /**
   * As a pod sees it: discovery at the in-cluster name (here `https://localhost:<port>`), while the
   * document names `jwks_uri` at the advertise address (`https://127.0.0.1:<port>`), both under the
   * cluster CA; the CA's own service-account token as the bearer token.
   */
  const asPod = (o: Partial<JwksAuthenticatorOptions> = {}): JwksAuthenticator =>
    new JwksAuthenticator({
      trustDomain: td,
      issuer: k.saIssuer,
      discovery: { discoveryUrl: `${k.localhostUrl}/.well-known/openid-configuration`, ca: k.caPem, bearerToken: () => caToken },
      ...o,
    });
  const withPodBinding = () => asPod({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) });
  const workloadToken = (sa: string, p?: ObjectRef) => k.requestToken(ns, sa, { audiences: ['castellan'], ...(p ? { pod: p } : {}) });

  beforeAll(async () => {
    ns = await k.createNamespace('jwks');
    ca = { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' };
    await k.createServiceAccount(ns, ca.name);
    // JWKS mode with pod binding reads the token's pod and service account (cluster-wide, read-only);
    // TokenReview mode needs tokenreviews: create (system:auth-delegator), used here for comparison.
    await k.grant(`castellan-jwks-${ns}`, ca, [{ apiGroups: [''], resources: ['pods', 'serviceaccounts'], verbs: ['get'] }]);
    await k.bindClusterRole(`castellan-jwks-${ns}-auth-delegator`, 'system:auth-delegator', ca);
    caToken = await k.requestToken(ns, ca.name);
    tmp = tempDir();
    kc = new KubeConfig();
    kc.loadFromFile(k.writeKubeconfig(path.join(tmp.dir, 'kubeconfig'), { token: caToken }));
    tokenReview = new TokenReviewAuthenticator(kc, { trustDomain: td, cacheTtlMs: 0 });
    await k.createServiceAccount(ns, 'cart');
    pod = await k.createPod(ns, 'cart-0', 'cart');
  });
  afterAll(async () => {
    await k.deleteObject('ClusterRoleBinding', `castellan-jwks-${ns}`);
    await k.deleteObject('ClusterRoleBinding', `castellan-jwks-${ns}-auth-delegator`);
    await k.deleteObject('ClusterRole', `castellan-jwks-${ns}`);
    tmp?.cleanup();
  });

  it('ok/discovery at one origin, jwks_uri at another (the advertise address): keys fetched with the bearer token over the cluster CA', async () => {
    const caller = await asPod().authenticate({ token: await workloadToken('cart', pod) });
    expect(caller.spiffeId.toString()).toBe(`spiffe://cluster.local/ns/${ns}/sa/cart`);
    expect(caller.pod).toEqual({ name: 'cart-0', uid: pod.uid });
    // The key fetch itself reached the API server as the CA's service account, not anonymously.
    const fetches = k.auditEvents((e) => e.requestURI === '/openid/v1/jwks' && e.user.username === serviceAccountUser(ns, ca.name));
    expect(fetches.map((e) => e.responseStatus?.code)).toContain(200);
  });

  it("fail/no bearer token: the default RBAC refuses discovery to anonymous callers (backend unavailable, not the caller's fault)", async () => {
    const auth = new JwksAuthenticator({ trustDomain: td, issuer: k.saIssuer, discovery: { discoveryUrl: `${k.localhostUrl}/.well-known/openid-configuration`, ca: k.caPem } });
    expect(await asyncCodeOf(auth.authenticate({ token: await workloadToken('cart', pod) }))).toBe('ERR_AUTH_BACKEND_UNAVAILABLE');
  });

  it('ok/anonymous discovery once system:service-account-issuer-discovery is bound to system:unauthenticated', async () => {
    const binding = `castellan-anonymous-discovery-${ns}`;
    await k.bindClusterRole(binding, 'system:service-account-issuer-discovery', { kind: 'Group', name: 'system:unauthenticated' });
    try {
      const anonymous = () =>
        new JwksAuthenticator({ trustDomain: td, issuer: k.saIssuer, discovery: { discoveryUrl: `${k.localhostUrl}/.well-known/openid-configuration`, ca: k.caPem } });
      const token = await workloadToken('cart', pod);
      const deadline = Date.now() + 30_000;
      // RBAC follows the new binding within moments.
      while ((await asyncCodeOf(anonymous().authenticate({ token }))) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await expect(anonymous().authenticate({ token })).resolves.toMatchObject({ serviceAccount: 'cart' });
    } finally {
      await k.deleteObject('ClusterRoleBinding', binding);
    }
  });

  it("ok/pod binding: the bound pod and its service account exist with the token's uids", async () => {
    const caller = await withPodBinding().authenticate({ token: await workloadToken('cart', pod) });
    expect(caller.pod?.uid).toBe(pod.uid);
  });

  it('fail/pod binding: the pod was deleted (TokenReview refuses it too)', async () => {
    const p = await k.createPod(ns, 'cart-gone', 'cart');
    const token = await workloadToken('cart', p);
    await k.deletePod(ns, 'cart-gone');
    expect(await asyncCodeOf(tokenReview.authenticate({ token }))).toBe('ERR_TOKEN_REJECTED');
    expect(await asyncCodeOf(withPodBinding().authenticate({ token }))).toBe('ERR_TOKEN_POD_BINDING');
  });

  it('fail/pod binding: the service account was deleted while its pod still exists (TokenReview refuses it too)', async () => {
    await k.createServiceAccount(ns, 'orders');
    const p = await k.createPod(ns, 'orders-0', 'orders');
    const token = await workloadToken('orders', p);
    await expect(withPodBinding().authenticate({ token })).resolves.toMatchObject({ namespace: ns, serviceAccount: 'orders', pod: { name: 'orders-0' } });
    await k.deleteServiceAccount(ns, 'orders');
    expect(await k.get(`/api/v1/namespaces/${ns}/pods/orders-0`)).toBeDefined();
    expect(await asyncCodeOf(tokenReview.authenticate({ token }))).toBe('ERR_TOKEN_REJECTED');
    const f = await failureOf(withPodBinding().authenticate({ token }));
    expect(f?.code).toBe('ERR_TOKEN_POD_BINDING');
    expect(f?.message).toMatch(/service account/);
  });

  it('fail/pod binding: the service account was re-created under the same name (a new uid)', async () => {
    await k.createServiceAccount(ns, 'billing');
    const p = await k.createPod(ns, 'billing-0', 'billing');
    const token = await workloadToken('billing', p);
    await k.deleteServiceAccount(ns, 'billing');
    await k.createServiceAccount(ns, 'billing');
    expect(await asyncCodeOf(tokenReview.authenticate({ token }))).toBe('ERR_TOKEN_REJECTED');
    expect(await asyncCodeOf(withPodBinding().authenticate({ token }))).toBe('ERR_TOKEN_POD_BINDING');
  });

  it("fail/iat a day in the future, signed with the cluster's own key: both modes refuse it", async () => {
    const real = await workloadToken('cart', pod);
    const future = await k.resign(real, { claims: { iat: Math.floor(Date.now() / 1000) + 86_400 } });
    expect(await asyncCodeOf(tokenReview.authenticate({ token: future }))).toBe('ERR_TOKEN_REJECTED');
    expect(await asyncCodeOf(asPod().authenticate({ token: future }))).toBe('ERR_TOKEN_NOT_YET_VALID');
  });

  it('ok/iat 30 s in the future is within the one-minute leeway of both modes', async () => {
    const real = await workloadToken('cart', pod);
    const skewed = await k.resign(real, { claims: { iat: Math.floor(Date.now() / 1000) + 30 } });
    await expect(tokenReview.authenticate({ token: skewed })).resolves.toMatchObject({ namespace: ns, serviceAccount: 'cart' });
    await expect(asPod().authenticate({ token: skewed })).resolves.toMatchObject({ namespace: ns, serviceAccount: 'cart' });
  });

  it('fail/a "crit" header (RFC 7515 §4.1.11), signed with the cluster\'s own key: both modes refuse it, JWKS says why', async () => {
    const real = await workloadToken('cart', pod);
    const crit = await k.resign(real, { header: { crit: ['castellan.test/ext'], 'castellan.test/ext': true } });
    expect(await asyncCodeOf(tokenReview.authenticate({ token: crit }))).toBe('ERR_TOKEN_REJECTED');
    const f = await failureOf(asPod().authenticate({ token: crit }));
    expect(f?.code).toBe('ERR_TOKEN_CRITICAL_HEADER');
    expect(f?.message).toMatch(/crit/);
  });
});

// The harness itself, and the facts about kube-apiserver the other tests rely on (docs/testing.md).
import { describe, expect, it } from 'vitest';
import { RealApiClient, sharedApiServer, serviceAccountUser } from './index.js';

const api = sharedApiServer();

describe.skipIf(api === undefined)('real kube-apiserver harness', () => {
  const k = api!;

  it('ok/ready with the bootstrap namespaces and RBAC policy', async () => {
    expect(await k.get('/api/v1/namespaces/default')).toBeDefined();
    expect(await k.get('/apis/rbac.authorization.k8s.io/v1/clusterroles/system:service-account-issuer-discovery')).toBeDefined();
    console.log(`k8s-real: started in ${(k.startedInMs / 1000).toFixed(1)} s`);
  });

  it('ok/the discovery document names jwks_uri at the advertise address, whichever origin served it', async () => {
    const ns = await k.createNamespace('harness');
    await k.createServiceAccount(ns, 'reader');
    const token = await k.requestToken(ns, 'reader');
    const viaLocalhost = new RealApiClient({ ...k.info, url: k.localhostUrl });
    const doc = await viaLocalhost.call<{ issuer: string; jwks_uri: string }>('GET', '/.well-known/openid-configuration', undefined, { token });
    expect(doc.issuer).toBe(k.saIssuer);
    expect(new URL(doc.jwks_uri).origin).toBe(new URL(k.url).origin);
    expect(new URL(doc.jwks_uri).origin).not.toBe(new URL(k.localhostUrl).origin);
  });

  it('ok/any service account may read discovery and JWKS (system:service-account-issuer-discovery)', async () => {
    const ns = await k.createNamespace('harness');
    await k.createServiceAccount(ns, 'nobody');
    expect(await k.canI({ kind: 'ServiceAccount', namespace: ns, name: 'nobody' }, { verb: 'get', nonResourcePath: '/openid/v1/jwks' })).toBe(true);
    expect(await k.canI({ kind: 'ServiceAccount', namespace: ns, name: 'nobody' }, { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' })).toBe(false);
  });

  it('ok/TokenReviews are counted in the audit log', async () => {
    const before = k.tokenReviews(serviceAccountUser('x', 'y')).length;
    expect(before).toBe(0);
    const all = k.auditEvents().length;
    expect(all).toBeGreaterThan(0);
  });
});

import { request } from 'node:https';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn } from './api-stand-in.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, any>;
}

function call(api: KubernetesApiStandIn, method: string, p: string, o: { token?: string; body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${api.url}${p}`,
      { method, ca: api.caPem, agent: false, headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(o.body === undefined ? undefined : JSON.stringify(o.body));
  });
}

const review = (token: string, audiences?: string[]) => ({
  apiVersion: 'authentication.k8s.io/v1',
  kind: 'TokenReview',
  spec: { token, ...(audiences ? { audiences } : {}) },
});

describe('Kubernetes API stand-in', () => {
  let api: KubernetesApiStandIn;
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    tmp = tempDir();
  });
  afterAll(async () => {
    await api.close();
    tmp.cleanup();
  });

  it('fail/401 Status without a bearer token', async () => {
    const r = await call(api, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { body: review('x') });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', details: {}, code: 401 });
  });

  it('fail/401 with a token the API did not issue', async () => {
    const r = await call(api, 'GET', '/api/v1/namespaces/default/pods/x', { token: 'garbage' });
    expect(r.status).toBe(401);
  });

  it('ok/discovery document and JWKS like kube-apiserver (authenticated)', async () => {
    expect((await call(api, 'GET', '/.well-known/openid-configuration')).status).toBe(401);
    const doc = await call(api, 'GET', '/.well-known/openid-configuration', { token: api.caToken });
    expect(doc.status).toBe(200);
    expect(doc.headers['cache-control']).toBe('public, max-age=3600');
    expect(doc.json).toEqual({
      issuer: 'https://kubernetes.default.svc.cluster.local',
      jwks_uri: `${api.url}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
    });
    const jwks = await call(api, 'GET', '/openid/v1/jwks', { token: api.caToken });
    expect(jwks.headers['content-type']).toBe('application/jwk-set+json');
    expect(jwks.json.keys).toHaveLength(1);
    expect(jwks.json.keys[0]).toMatchObject({ use: 'sig', kty: 'EC', crv: 'P-256', alg: 'ES256', kid: api.currentKid });
    expect(Object.keys(jwks.json.keys[0])).toEqual(['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y']);
  });

  it('ok/a valid review of a pod-bound token', async () => {
    const pod = api.addPod({ namespace: 'shop', name: 'cart-0', serviceAccount: 'cart' });
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan', 'other'], pod: { name: 'cart-0' } });
    const before = api.tokenReviewCount;
    const r = await call(api, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { token: api.caToken, body: review(token, ['castellan', 'istio-ca']) });
    expect(r.status).toBe(201);
    expect(api.tokenReviewCount).toBe(before + 1);
    expect(r.json.kind).toBe('TokenReview');
    expect(r.json.status.authenticated).toBe(true);
    expect(r.json.status.audiences).toEqual(['castellan']);
    expect(r.json.status.user.username).toBe('system:serviceaccount:shop:cart');
    expect(r.json.status.user.groups).toEqual(['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated']);
    expect(r.json.status.user.extra['authentication.kubernetes.io/pod-name']).toEqual(['cart-0']);
    expect(r.json.status.user.extra['authentication.kubernetes.io/pod-uid']).toEqual([pod.uid]);
    expect(r.json.status.user.extra['authentication.kubernetes.io/credential-id'][0]).toMatch(/^JTI=[0-9a-f-]{36}$/);
  });

  it('fail/no spec.audiences means the API audiences (the issuer)', async () => {
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] });
    const r = await call(api, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { token: api.caToken, body: review(token) });
    expect(r.json.status.authenticated).toBeUndefined();
    expect(r.json.status.error).toBe('[invalid bearer token, token audiences ["castellan"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]]');
  });

  it('fail/a deleted pod invalidates its token', async () => {
    api.addPod({ namespace: 'shop', name: 'cart-1', serviceAccount: 'cart' });
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'], pod: { name: 'cart-1' } });
    const body = review(token, ['castellan']);
    expect((await call(api, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { token: api.caToken, body })).json.status.authenticated).toBe(true);
    api.deletePod('shop', 'cart-1');
    const r = await call(api, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { token: api.caToken, body });
    expect(r.status).toBe(201);
    expect(r.json.status).toEqual({ user: {}, error: '[invalid bearer token, service account token has been invalidated]' });
  });

  it('fail/pod GET answers a 404 Status when absent', async () => {
    const r = await call(api, 'GET', '/api/v1/namespaces/shop/pods/nope', { token: api.caToken });
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' }, code: 404 });
  });

  it('ok/the kubeconfig loads unchanged into @kubernetes/client-node', async () => {
    const file = path.join(tmp.dir, 'kubeconfig');
    api.writeKubeconfig(file);
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const pod = api.addPod({ namespace: 'web', name: 'front-0' });
    const got = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: 'web', name: 'front-0' });
    expect(got.metadata?.uid).toBe(pod.uid);
  });
});

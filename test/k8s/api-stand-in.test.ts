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

describe('Kubernetes API stand-in: namespaces and ConfigMaps', () => {
  let api: KubernetesApiStandIn;
  let tmp: ReturnType<typeof tempDir>;
  let kc: KubeConfig;
  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    tmp = tempDir();
    const file = path.join(tmp.dir, 'kubeconfig');
    api.writeKubeconfig(file);
    kc = new KubeConfig();
    kc.loadFromFile(file);
  });
  afterAll(async () => {
    await api.close();
    tmp.cleanup();
  });
  const cmPath = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;
  const cm = (name: string, data: Record<string, string>, extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data });

  it('ok/namespace list like a fresh cluster, with list resourceVersion and terminating phase', async () => {
    api.addNamespace('ns-a', { team: 'a' });
    api.addNamespace('ns-gone');
    api.terminateNamespace('ns-gone');
    const r = await call(api, 'GET', '/api/v1/namespaces', { token: api.caToken });
    expect(r.status).toBe(200);
    expect(r.json.kind).toBe('NamespaceList');
    expect(r.json.apiVersion).toBe('v1');
    expect(Number(r.json.metadata.resourceVersion)).toBeGreaterThan(1000);
    const names = r.json.items.map((i: any) => i.metadata.name);
    expect(names).toEqual(['default', 'kube-node-lease', 'kube-public', 'kube-system', 'ns-a', 'ns-gone']);
    const a = r.json.items.find((i: any) => i.metadata.name === 'ns-a');
    expect(a.kind).toBeUndefined();
    expect(a.metadata.labels).toEqual({ team: 'a', 'kubernetes.io/metadata.name': 'ns-a' });
    expect(a.status).toEqual({ phase: 'Active' });
    const gone = r.json.items.find((i: any) => i.metadata.name === 'ns-gone');
    expect(gone.status.phase).toBe('Terminating');
    expect(gone.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const byLabel = await call(api, 'GET', '/api/v1/namespaces?labelSelector=team%3Da', { token: api.caToken });
    expect(byLabel.json.items.map((i: any) => i.metadata.name)).toEqual(['ns-a']);
    const viaClient = await kc.makeApiClient(CoreV1Api).listNamespace();
    expect(viaClient.items.map((n) => n.metadata?.name)).toEqual(names);
  });

  it('ok/create, get, replace, delete; resourceVersion grows on every write', async () => {
    const created = await call(api, 'POST', cmPath('ns-a'), { token: api.caToken, body: cm('c1', { k: 'v1' }) });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c1', namespace: 'ns-a' }, data: { k: 'v1' } });
    expect(created.json.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const rv1 = Number(created.json.metadata.resourceVersion);
    const got = await call(api, 'GET', cmPath('ns-a', 'c1'), { token: api.caToken });
    expect(got.json).toEqual(created.json);
    const replaced = await call(api, 'PUT', cmPath('ns-a', 'c1'), { token: api.caToken, body: { ...got.json, data: { k: 'v2' } } });
    expect(replaced.status).toBe(200);
    expect(Number(replaced.json.metadata.resourceVersion)).toBeGreaterThan(rv1);
    expect(replaced.json.metadata.uid).toBe(created.json.metadata.uid);
    expect(replaced.json.metadata.creationTimestamp).toBe(created.json.metadata.creationTimestamp);
    expect(api.configMap('ns-a', 'c1')?.data).toEqual({ k: 'v2' });
    const del = await call(api, 'DELETE', cmPath('ns-a', 'c1'), { token: api.caToken });
    expect(del.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: 'c1', kind: 'configmaps', uid: created.json.metadata.uid } });
    expect(api.configMap('ns-a', 'c1')).toBeUndefined();
  });

  it('fail/PUT with a stale resourceVersion is a 409 Conflict Status', async () => {
    const first = (await call(api, 'POST', cmPath('ns-a'), { token: api.caToken, body: cm('c2', { k: 'a' }) })).json;
    api.putConfigMap('ns-a', { metadata: { name: 'c2' }, data: { k: 'other writer' } });
    const r = await call(api, 'PUT', cmPath('ns-a', 'c2'), { token: api.caToken, body: { ...first, data: { k: 'b' } } });
    expect(r.status).toBe(409);
    expect(r.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Operation cannot be fulfilled on configmaps "c2": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict',
      details: { name: 'c2', kind: 'configmaps' },
      code: 409,
    });
    expect(api.configMap('ns-a', 'c2')?.data).toEqual({ k: 'other writer' });
  });

  it('fail/POST of an existing name is 409 AlreadyExists; PUT of a missing one is 404', async () => {
    const r = await call(api, 'POST', cmPath('ns-a'), { token: api.caToken, body: cm('c2', {}) });
    expect(r.status).toBe(409);
    expect(r.json).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'AlreadyExists',
      message: 'configmaps "c2" already exists',
      details: { name: 'c2', kind: 'configmaps' },
      code: 409,
    });
    const put = await call(api, 'PUT', cmPath('ns-a', 'nope'), { token: api.caToken, body: cm('nope', {}) });
    expect(put.status).toBe(404);
    const mismatch = await call(api, 'PUT', cmPath('ns-a', 'c2'), { token: api.caToken, body: cm('c3', {}) });
    expect(mismatch.json).toMatchObject({ reason: 'BadRequest', code: 400 });
  });

  it('fail/GET of a missing ConfigMap is a 404 NotFound Status', async () => {
    const r = await call(api, 'GET', cmPath('ns-a', 'missing'), { token: api.caToken });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'configmaps "missing" not found',
      reason: 'NotFound',
      details: { name: 'missing', kind: 'configmaps' },
      code: 404,
    });
  });

  it('fail/creating in a missing namespace is 404; in a terminating one 403 NamespaceTerminating', async () => {
    const missing = await call(api, 'POST', cmPath('no-such-ns'), { token: api.caToken, body: cm('c', {}) });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ reason: 'NotFound', message: 'namespaces "no-such-ns" not found', details: { name: 'no-such-ns', kind: 'namespaces' } });
    const terminating = await call(api, 'POST', cmPath('ns-gone'), { token: api.caToken, body: cm('c', {}) });
    expect(terminating.status).toBe(403);
    expect(terminating.json.reason).toBe('Forbidden');
    expect(terminating.json.details.causes[0].reason).toBe('NamespaceTerminating');
    const noName = await call(api, 'POST', cmPath('ns-a'), { token: api.caToken, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } });
    expect(noName.json).toMatchObject({ reason: 'Invalid', code: 422 });
  });

  it('ok/lists: per namespace and cluster-wide with field and label selectors', async () => {
    api.addNamespace('ns-b');
    api.putConfigMap('ns-b', { metadata: { name: 'c2', labels: { app: 'x' } }, data: {} });
    api.putConfigMap('ns-b', { metadata: { name: 'c9' }, data: {} });
    const inB = await call(api, 'GET', cmPath('ns-b'), { token: api.caToken });
    expect(inB.json.kind).toBe('ConfigMapList');
    expect(inB.json.items.map((i: any) => i.metadata.name)).toEqual(['c2', 'c9']);
    const named = await call(api, 'GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dc2', { token: api.caToken });
    expect(named.json.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`)).toEqual(['ns-a/c2', 'ns-b/c2']);
    const labelled = await call(api, 'GET', '/api/v1/configmaps?labelSelector=app%3Dx', { token: api.caToken });
    expect(labelled.json.items).toHaveLength(1);
    const bad = await call(api, 'GET', '/api/v1/configmaps?fieldSelector=data.k%3Dv', { token: api.caToken });
    expect(bad.status).toBe(400);
    const viaClient = await kc.makeApiClient(CoreV1Api).listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name=c2' });
    expect(viaClient.items).toHaveLength(2);
    expect(await call(api, 'GET', cmPath('no-such-ns'), { token: api.caToken })).toMatchObject({ status: 200, json: { items: [] } });
  });

  it('fail/a deny rule answers 403 Forbidden the way RBAC words it', async () => {
    const undo = api.deny({ resource: 'configmaps', namespace: 'ns-b', verbs: ['update', 'create'] });
    const put = await call(api, 'PUT', cmPath('ns-b', 'c9'), { token: api.caToken, body: cm('c9', {}) });
    expect(put.status).toBe(403);
    expect(put.json).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'configmaps "c9" is forbidden: User "system:serviceaccount:castellan-system:castellan-ca" cannot update resource "configmaps" in API group "" in the namespace "ns-b"',
      reason: 'Forbidden',
      details: { name: 'c9', kind: 'configmaps' },
      code: 403,
    });
    const post = await call(api, 'POST', cmPath('ns-b'), { token: api.caToken, body: cm('new', {}) });
    expect(post.json.message).toBe(
      'configmaps is forbidden: User "system:serviceaccount:castellan-system:castellan-ca" cannot create resource "configmaps" in API group "" in the namespace "ns-b"',
    );
    expect((await call(api, 'GET', cmPath('ns-b', 'c9'), { token: api.caToken })).status).toBe(200);
    const undoList = api.deny({ resource: 'configmaps', verbs: ['list'] });
    const list = await call(api, 'GET', '/api/v1/configmaps', { token: api.caToken });
    expect(list.json.message).toBe(
      'configmaps is forbidden: User "system:serviceaccount:castellan-system:castellan-ca" cannot list resource "configmaps" in API group "" at the cluster scope',
    );
    undo();
    undoList();
    expect((await call(api, 'PUT', cmPath('ns-b', 'c9'), { token: api.caToken, body: cm('c9', {}) })).status).toBe(200);
  });

  it('ok/request hooks see every resource request and can answer a failure', async () => {
    const seen: string[] = [];
    const undo = api.onRequest((r) => {
      seen.push(`${r.verb} ${r.resource} ${r.namespace ?? '*'}/${r.name ?? ''}`);
      return r.namespace === 'ns-b' ? { code: 503, reason: 'ServiceUnavailable', message: 'etcd is down' } : undefined;
    });
    expect((await call(api, 'GET', cmPath('ns-b', 'c9'), { token: api.caToken })).json).toMatchObject({ code: 503, reason: 'ServiceUnavailable' });
    expect((await call(api, 'GET', cmPath('ns-a', 'c2'), { token: api.caToken })).status).toBe(200);
    await call(api, 'GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dc2', { token: api.caToken });
    undo();
    expect(seen).toEqual(['get configmaps ns-b/c9', 'get configmaps ns-a/c2', 'list configmaps */c2']);
    expect(api.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api/v1/configmaps', verb: 'list', name: 'c2' });
  });
});

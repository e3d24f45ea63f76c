// TokenReviewAuthenticator and loadKubeConfig against a real kube-apiserver (docs/testing.md).
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenReviewAuthenticator, TrustDomain, loadKubeConfig, type KubeConfigLog } from '../../workload-identity/index.js';
import { asyncCodeOf, failureOf } from '../helpers/error-code.js';
import { tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';
import { sharedApiServer, serviceAccountUser, type ObjectRef, type RbacSubject } from '../k8s/real/index.js';

const api = sharedApiServer();
const td = TrustDomain.of('cluster.local');
const silent: KubeConfigLog = { info: () => undefined, warn: () => undefined };

describe.skipIf(api === undefined)('TokenReviewAuthenticator against a real kube-apiserver', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  let ns: string;
  let pod: ObjectRef;
  let auth: TokenReviewAuthenticator;
  const caUser = () => serviceAccountUser(ns, 'castellan-ca');
  const file = (name: string) => path.join(t.dir, name);
  const sa = (name: string): RbacSubject => ({ kind: 'ServiceAccount', namespace: ns, name });
  const workloadToken = (o: { pod?: ObjectRef; audiences?: string[] } = {}) =>
    k.requestToken(ns, 'web', { audiences: o.audiences ?? ['castellan'], ...(o.pod ? { pod: o.pod } : {}) });
  /** A service account of this namespace allowed to create TokenReviews (system:auth-delegator), and a token file of it. */
  async function reviewer(name: string): Promise<string> {
    await k.createServiceAccount(ns, name);
    await k.bindClusterRole(`castellan-tr-${ns}-${name}`, 'system:auth-delegator', sa(name));
    const tokenFile = file(`${name}.token`);
    writeFileSync(tokenFile, await k.requestToken(ns, name), { mode: 0o600 });
    return tokenFile;
  }

  beforeAll(async () => {
    t = tempDir();
    ns = await k.createNamespace('tokenreview');
    await reviewer('castellan-ca');
    // The standard kubeconfig field for a token on disk, relative to the kubeconfig's directory.
    const kc = await loadKubeConfig(k.writeKubeconfig(file('kubeconfig'), { tokenFile: 'castellan-ca.token' }), { log: silent });
    auth = new TokenReviewAuthenticator(kc, { trustDomain: td });
    await k.createServiceAccount(ns, 'web');
    pod = await k.createPod(ns, 'web-0', 'web');
  });
  afterAll(async () => {
    for (const name of ['castellan-ca', 'ca-a', 'ca-b']) await k.deleteObject('ClusterRoleBinding', `castellan-tr-${ns}-${name}`);
    t?.cleanup();
  });

  it('ok/a pod-bound token: identity and pod from the review', async () => {
    const caller = await auth.authenticate({ token: await workloadToken({ pod }) });
    expect(caller.spiffeId.toString()).toBe(`spiffe://cluster.local/ns/${ns}/sa/web`);
    expect(caller.pod).toEqual({ name: 'web-0', uid: pod.uid });
    expect(caller.authenticator).toBe('tokenreview');
  });

  it('ok/five requests with one token cost one TokenReview (audit log)', async () => {
    const token = await workloadToken({ pod });
    const before = k.tokenReviews(caUser()).length;
    for (let i = 0; i < 5; i++) await auth.authenticate({ token });
    await until(() => k.tokenReviews(caUser()).length > before, 'the TokenReview in the audit log', 20_000);
    // Give a second review, if one had been made, the time to reach the log.
    await new Promise((r) => setTimeout(r, 500));
    expect(k.tokenReviews(caUser()).length - before).toBe(1);
  });

  it('fail/a token for the API audience only is refused without asking the API', async () => {
    const before = k.tokenReviews(caUser()).length;
    expect(await asyncCodeOf(auth.authenticate({ token: await workloadToken({ audiences: [...k.apiAudiences] }) }))).toBe('ERR_TOKEN_AUDIENCE');
    await new Promise((r) => setTimeout(r, 500));
    expect(k.tokenReviews(caUser()).length).toBe(before);
  });

  it('fail/the bound pod was deleted', async () => {
    const p = await k.createPod(ns, 'web-gone', 'web');
    const token = await workloadToken({ pod: p });
    await k.deletePod(ns, 'web-gone');
    expect(await asyncCodeOf(auth.authenticate({ token }))).toBe('ERR_TOKEN_REJECTED');
  });

  it('fail/the CA may not create TokenReviews: backend unavailable, and the message names the missing RBAC', async () => {
    await k.createServiceAccount(ns, 'no-rbac');
    writeFileSync(file('no-rbac.token'), await k.requestToken(ns, 'no-rbac'));
    const kc = await loadKubeConfig(k.writeKubeconfig(file('no-rbac.kubeconfig'), { tokenFile: 'no-rbac.token' }), { log: silent });
    const f = await failureOf(new TokenReviewAuthenticator(kc, { trustDomain: td }).authenticate({ token: await workloadToken({ pod }) }));
    expect(f?.code).toBe('ERR_AUTH_BACKEND_UNAVAILABLE');
    expect(f?.message).toMatch(/tokenreviews: create/);
  });

  it('fail/a kubeconfig without any credential: the message says the calls are anonymous, not that RBAC is missing', async () => {
    const lines: string[] = [];
    const log: KubeConfigLog = { info: () => undefined, warn: (_o, msg) => void lines.push(msg) };
    const kc = await loadKubeConfig(k.writeKubeconfig(file('anonymous.kubeconfig'), {}), { log });
    expect(lines.join('\n')).toMatch(/no credential/);
    const f = await failureOf(new TokenReviewAuthenticator(kc, { trustDomain: td }).authenticate({ token: await workloadToken({ pod }) }));
    expect(f?.code).toBe('ERR_AUTH_BACKEND_UNAVAILABLE');
    expect(f?.message).toMatch(/system:anonymous/);
    expect(f?.message).not.toMatch(/grant/);
  });

  it("ok/a rotated tokenFile is read again: the reviews are made by the new token's account", async () => {
    const kubeconfig = k.writeKubeconfig(file('rotating.kubeconfig'), { tokenFile: 'rotating.token' });
    const a = await reviewer('ca-a');
    const b = await reviewer('ca-b');
    copyFileSync(a, file('rotating.token'));
    let offsetMs = 0;
    const kc = await loadKubeConfig(kubeconfig, { log: silent, now: () => new Date(Date.now() + offsetMs) });
    const reviews = new TokenReviewAuthenticator(kc, { trustDomain: td, cacheTtlMs: 0 });
    await reviews.authenticate({ token: await workloadToken({ pod }) });
    copyFileSync(b, file('rotating.token'));
    offsetMs = 61_000; // past the one-minute re-read period
    await reviews.authenticate({ token: await workloadToken({ pod }) });
    await until(() => k.tokenReviews(serviceAccountUser(ns, 'ca-b')).length === 1, 'a TokenReview by the rotated token', 20_000);
    expect(k.tokenReviews(serviceAccountUser(ns, 'ca-a')).length).toBe(1);
  });
});

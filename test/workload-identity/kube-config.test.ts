import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { TokenReviewAuthenticator, TrustDomain, kubeConfigCredential, loadKubeConfig, type KubeConfigLog } from '../../workload-identity/index.js';
import { asyncCodeOf, failureOf } from '../helpers/error-code.js';
import { tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';

const td = TrustDomain.of('cluster.local');

describe('loadKubeConfig', () => {
  let api: KubernetesApiStandIn;
  let t: ReturnType<typeof tempDir>;
  const file = (name: string) => path.join(t.dir, name);
  /** A kubeconfig for the stand-in whose user has exactly `user`'s fields. */
  const kubeconfig = (name: string, user: Record<string, unknown>): string => {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: api.url, 'certificate-authority-data': Buffer.from(api.caPem).toString('base64') } }],
      users: [{ name: 'castellan', user }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'castellan' } }],
      'current-context': 'c',
    };
    writeFileSync(file(name), toYaml(config), { mode: 0o600 });
    return file(name);
  };
  const review = async (kc: Awaited<ReturnType<typeof loadKubeConfig>>) =>
    new TokenReviewAuthenticator(kc, { trustDomain: td, cacheTtlMs: 0 }).authenticate({
      token: await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] }),
    });
  const memoryLog = () => {
    const lines: { level: 'info' | 'warn'; obj: object; msg: string }[] = [];
    const log: KubeConfigLog = { info: (obj, msg) => void lines.push({ level: 'info', obj, msg }), warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }) };
    return { log, lines };
  };

  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    t = tempDir();
  });
  afterAll(async () => {
    await api.close();
    t.cleanup();
  });

  it('ok/the standard tokenFile field, relative to the kubeconfig, with a trailing newline', async () => {
    writeFileSync(file('sa.token'), `${api.caToken}\n`);
    const { log, lines } = memoryLog();
    const kc = await loadKubeConfig(kubeconfig('token-file.yaml', { tokenFile: 'sa.token' }), { log });
    expect(kubeConfigCredential(kc)).toBe('token-file');
    await expect(review(kc)).resolves.toMatchObject({ serviceAccount: 'cart' });
    expect(lines).toEqual([expect.objectContaining({ level: 'info', msg: expect.stringMatching(/token-file/) })]);
    expect(JSON.stringify(lines)).not.toContain(api.caToken);
  });

  it('ok/tokenFile takes precedence over token (client-go), which stays the fallback', async () => {
    writeFileSync(file('good.token'), api.caToken);
    const kc = await loadKubeConfig(kubeconfig('both.yaml', { token: 'stale-token', tokenFile: 'good.token' }));
    await expect(review(kc)).resolves.toMatchObject({ serviceAccount: 'cart' });
    const fallback = await loadKubeConfig(kubeconfig('fallback.yaml', { token: api.caToken, tokenFile: 'absent.token' }));
    await expect(review(fallback)).resolves.toMatchObject({ serviceAccount: 'cart' });
  });

  it('ok/the token file is read again once the refresh period has passed (projected tokens rotate)', async () => {
    writeFileSync(file('rotating.token'), api.caToken);
    let offsetMs = 0;
    const kc = await loadKubeConfig(kubeconfig('rotating.yaml', { tokenFile: 'rotating.token' }), { now: () => new Date(Date.now() + offsetMs) });
    await expect(review(kc)).resolves.toMatchObject({ serviceAccount: 'cart' });
    writeFileSync(file('rotating.token'), 'a-token-the-api-does-not-know');
    offsetMs = 30_000;
    await expect(review(kc)).resolves.toMatchObject({ serviceAccount: 'cart' }); // within the period: the token read before
    offsetMs = 61_000;
    expect(await asyncCodeOf(review(kc))).toBe('ERR_AUTH_BACKEND_UNAVAILABLE'); // re-read: the API refuses it (401)
  });

  it("ok/the library's own token-file field is re-read too", async () => {
    writeFileSync(file('dash.token'), api.caToken);
    const kc = await loadKubeConfig(kubeconfig('dash.yaml', { 'token-file': file('dash.token') }));
    expect(kubeConfigCredential(kc)).toBe('token-file');
    await expect(review(kc)).resolves.toMatchObject({ serviceAccount: 'cart' });
  });

  it('ok/a static token', async () => {
    const kc = await loadKubeConfig(kubeconfig('token.yaml', { token: api.caToken }));
    expect(kubeConfigCredential(kc)).toBe('token');
    await expect(review(kc)).resolves.toMatchObject({ serviceAccount: 'cart' });
  });

  it('warn/a user without any credential: anonymous calls, and the warning says to fix the kubeconfig', async () => {
    const { log, lines } = memoryLog();
    const kc = await loadKubeConfig(kubeconfig('anonymous.yaml', {}), { log });
    expect(kubeConfigCredential(kc)).toBe('none');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', obj: { credential: 'none', user: 'castellan' } });
    expect(lines[0]!.msg).toMatch(/no credential/);
  });

  const fail: Array<[string, () => string]> = [
    ['fail/no such kubeconfig', () => file('missing.yaml')],
    ['fail/a tokenFile that cannot be read and no token to fall back on', () => kubeconfig('unreadable.yaml', { tokenFile: 'absent.token' })],
    ['fail/an empty tokenFile', () => (writeFileSync(file('empty.token'), '\n'), kubeconfig('empty.yaml', { tokenFile: 'empty.token' }))],
  ];
  for (const [name, kubeconfigFile] of fail) {
    it(name, async () => {
      const f = await failureOf(loadKubeConfig(kubeconfigFile()));
      expect(f?.code).toBe('ERR_KUBECONFIG');
    });
  }
});

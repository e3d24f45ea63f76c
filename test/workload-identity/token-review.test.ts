import { createHash, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CastellanError, TokenReviewAuthenticator, TrustDomain, type AuthErrorCode, type TokenReviewAuthenticatorOptions } from '../../workload-identity/index.js';
import { tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn, type MintTokenOptions } from '../k8s/api-stand-in.js';

const td = TrustDomain.of('cluster.local');
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function caught(p: Promise<unknown>): Promise<CastellanError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CastellanError) return err;
    throw err;
  }
  throw new Error('expected a CastellanError');
}

describe('TokenReviewAuthenticator against the Kubernetes API stand-in', () => {
  let api: KubernetesApiStandIn;
  let tmp: ReturnType<typeof tempDir>;
  let kc: KubeConfig;

  const kubeConfigFor = (a: KubernetesApiStandIn, name: string, token?: string): KubeConfig => {
    const file = path.join(tmp.dir, name);
    a.writeKubeconfig(file, token);
    const k = new KubeConfig();
    k.loadFromFile(file);
    return k;
  };
  const auth = (o: Partial<TokenReviewAuthenticatorOptions> = {}, k: KubeConfig = kc) => new TokenReviewAuthenticator(k, { trustDomain: td, ...o });
  const mint = (o: Partial<MintTokenOptions> = {}) => api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'], ...o });

  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    tmp = tempDir();
    kc = kubeConfigFor(api, 'kubeconfig');
    api.addPod({ namespace: 'shop', name: 'cart-0', serviceAccount: 'cart' });
  });
  afterAll(async () => {
    await api.close();
    tmp.cleanup();
  });

  it('ok/a valid pod-bound token: identity from status.user, pod from status.user.extra', async () => {
    const token = await mint({ pod: { name: 'cart-0' } });
    const before = api.tokenReviewCount;
    const caller = await auth().authenticate({ token });
    expect(api.tokenReviewCount).toBe(before + 1);
    expect(caller.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(caller).toMatchObject({ namespace: 'shop', serviceAccount: 'cart', authenticator: 'tokenreview', pod: { name: 'cart-0' } });
    expect(caller.tokenSha256).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('ok/20 authentications with one token cost exactly one TokenReview', async () => {
    const a = auth();
    const token = await mint();
    const before = api.tokenReviewCount;
    for (let i = 0; i < 20; i++) await a.authenticate({ token });
    expect(api.tokenReviewCount).toBe(before + 1);
  });

  it('ok/20 concurrent authentications with one token share one TokenReview', async () => {
    const a = auth();
    const token = await mint();
    const before = api.tokenReviewCount;
    const callers = await Promise.all(Array.from({ length: 20 }, () => a.authenticate({ token })));
    expect(api.tokenReviewCount).toBe(before + 1);
    expect(new Set(callers.map((c) => c.spiffeId.toString()))).toEqual(new Set(['spiffe://cluster.local/ns/shop/sa/cart']));
  });

  it('ok/a cache entry older than cacheTtlMs costs a new review', async () => {
    const t0 = Date.now();
    let offsetMs = 0;
    const a = auth({ now: () => new Date(t0 + offsetMs) }); // default cacheTtlMs 60 s
    const token = await mint();
    const before = api.tokenReviewCount;
    await a.authenticate({ token });
    offsetMs = 59_000;
    await a.authenticate({ token });
    expect(api.tokenReviewCount).toBe(before + 1);
    offsetMs = 60_001;
    await a.authenticate({ token });
    expect(api.tokenReviewCount).toBe(before + 2);
  });

  it('ok/a cache entry never outlives the token exp; past exp the token is refused without a review', async () => {
    const t0 = Date.now();
    let offsetMs = 0;
    const a = auth({ cacheTtlMs: 86_400_000, now: () => new Date(t0 + offsetMs) });
    const token = await mint({ ttlSeconds: 600 });
    const exp = decodeJwt(token).exp! * 1000;
    const before = api.tokenReviewCount;
    await a.authenticate({ token });
    offsetMs = exp - t0 + 1_000; // just past exp, inside the 60 s leeway the API server also allows
    await a.authenticate({ token });
    expect(api.tokenReviewCount).toBe(before + 2);
    offsetMs = exp - t0 + 120_000;
    expect((await caught(a.authenticate({ token }))).code).toBe('ERR_TOKEN_EXPIRED');
    expect(api.tokenReviewCount).toBe(before + 2);
  });

  it('ok/the cache evicts the least recently used entry at cacheMaxEntries', async () => {
    const a = auth({ cacheMaxEntries: 2 });
    const [t1, t2, t3] = await Promise.all([mint(), mint(), mint()]);
    const before = api.tokenReviewCount;
    await a.authenticate({ token: t1! });
    await a.authenticate({ token: t2! });
    await a.authenticate({ token: t1! }); // t1 is now the most recent
    await a.authenticate({ token: t3! }); // evicts t2
    expect(api.tokenReviewCount).toBe(before + 3);
    await a.authenticate({ token: t1! });
    expect(api.tokenReviewCount).toBe(before + 3);
    await a.authenticate({ token: t2! });
    expect(api.tokenReviewCount).toBe(before + 4);
    expect(a.cacheSize).toBe(2);
  });

  const fail: Array<[name: string, token: () => Promise<string | undefined>, code: AuthErrorCode, reviews: number]> = [
    ['fail/no token', async () => undefined, 'ERR_TOKEN_MISSING', 0],
    ['fail/garbage token (refused before any API call)', async () => 'not-a-jwt', 'ERR_TOKEN_MALFORMED', 0],
    ['fail/expired (refused before any API call)', () => mint({ now: new Date(Date.now() - 2 * 3_600_000), ttlSeconds: 3600 }), 'ERR_TOKEN_EXPIRED', 0],
    ['fail/wrong audience (refused before any API call)', () => mint({ audiences: ['vault'] }), 'ERR_TOKEN_AUDIENCE', 0],
    ['fail/not yet valid (the API says no)', () => mint({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }), 'ERR_TOKEN_REJECTED', 1],
    ['fail/wrong issuer (the API says no)', () => mint({ claims: { iss: 'https://evil.example' } }), 'ERR_TOKEN_REJECTED', 1],
    ['fail/alg none (the API says no)', async () => `${b64({ alg: 'none', kid: api.currentKid })}.${b64(decodeJwt(await mint()))}.`, 'ERR_TOKEN_REJECTED', 1],
    [
      'fail/unknown kid (the API says no)',
      () => mint({ signWith: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: 'rogue' } }),
      'ERR_TOKEN_REJECTED',
      1,
    ],
    [
      'fail/the bound pod was deleted (the API says no)',
      async () => {
        api.addPod({ namespace: 'shop', name: 'cart-gone', serviceAccount: 'cart' });
        const token = await mint({ pod: { name: 'cart-gone' } });
        api.deletePod('shop', 'cart-gone');
        return token;
      },
      'ERR_TOKEN_REJECTED',
      1,
    ],
  ];
  for (const [name, token, code, reviews] of fail) {
    it(name, async () => {
      const t = await token();
      const before = api.tokenReviewCount;
      const err = await caught(auth().authenticate(t === undefined ? {} : { token: t }));
      expect(err.code).toBe(code);
      expect(api.tokenReviewCount).toBe(before + reviews);
    });
  }

  it('fail/a refusal is not cached, and neither message, context nor cause carry the token', async () => {
    const a = auth();
    const token = await mint({ claims: { iss: 'https://evil.example' } });
    const before = api.tokenReviewCount;
    const err = await caught(a.authenticate({ token }));
    await caught(a.authenticate({ token }));
    expect(api.tokenReviewCount).toBe(before + 2);
    expect(err.context['apiError']).toBe('invalid bearer token');
    for (const text of [err.message, JSON.stringify(err.context), String(err.cause ?? '')]) expect(text).not.toContain(token);
  });

  it('fail/an API server that ignores spec.audiences (no status.audiences) is not trusted with them', async () => {
    const legacy = await KubernetesApiStandIn.start({ ignoreTokenReviewAudiences: true });
    try {
      const token = await legacy.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] });
      const err = await caught(auth({}, kubeConfigFor(legacy, 'legacy')).authenticate({ token }));
      expect(err.code).toBe('ERR_TOKEN_AUDIENCE');
      expect(legacy.tokenReviewCount).toBe(1);
    } finally {
      await legacy.close();
    }
  });

  it("fail/the API refuses Castellan's own credentials (401) → ERR_AUTH_BACKEND_UNAVAILABLE", async () => {
    const err = await caught(auth({}, kubeConfigFor(api, 'bad-token', 'not-our-token')).authenticate({ token: await mint() }));
    expect(err.code).toBe('ERR_AUTH_BACKEND_UNAVAILABLE');
    expect(err.context['httpStatus']).toBe(401);
  });

  it('fail/API server stopped → ERR_AUTH_BACKEND_UNAVAILABLE', async () => {
    const gone = await KubernetesApiStandIn.start();
    const k = kubeConfigFor(gone, 'gone');
    const token = await gone.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] });
    await gone.close();
    expect((await caught(auth({}, k).authenticate({ token }))).code).toBe('ERR_AUTH_BACKEND_UNAVAILABLE');
  });

  it('fail/TypeError for unusable options', () => {
    expect(() => auth({ audiences: [] })).toThrow(TypeError);
    expect(() => auth({ cacheTtlMs: -1 })).toThrow(TypeError);
    expect(() => new TokenReviewAuthenticator(new KubeConfig(), { trustDomain: td })).toThrow(/current cluster/);
  });
});

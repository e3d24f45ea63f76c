// JwksAuthenticator remembers tokens that verified (by SHA-256, until exp + tolerance) and accepts the
// common ES256/ES384/RS256 token without jose (jws-fast-path.ts). Neither may change a refusal: an
// expired token is refused after it was cached, refusals are never cached, a key the issuer removed
// stops working, and pod binding is checked on every request.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwksAuthenticator, jwkKeyId, mintServiceAccountToken, TrustDomain, type JwksAuthenticatorOptions, type PodLookup } from '../../workload-identity/index.js';
import { asyncCodeOf } from '../helpers/error-code.js';

const td = TrustDomain.of('cluster.local');
const ISSUER = 'https://issuer.test';

async function issuer(kind: 'ec' | 'rsa' = 'ec'): Promise<{ key: KeyObject; kid: string; jwks: JSONWebKeySet }> {
  const key = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const kid = await jwkKeyId(key);
  return { key, kid, jwks: { keys: [{ ...(await exportJWK(createPublicKey(key))), kid }] } };
}

const mint = (i: { key: KeyObject; kid: string }, o: { ttlSeconds?: number; audiences?: string[]; now?: Date; pod?: { name: string; uid: string } } = {}) =>
  mintServiceAccountToken(i.key, i.kid, {
    issuer: ISSUER,
    audiences: o.audiences ?? ['castellan'],
    namespace: 'shop',
    serviceAccount: 'cart',
    ttlSeconds: o.ttlSeconds ?? 600,
    ...(o.now ? { now: o.now } : {}),
    ...(o.pod ? { pod: o.pod } : {}),
  });

describe('verified token cache and fast path', () => {
  for (const kind of ['ec', 'rsa'] as const) {
    it(`ok/${kind === 'ec' ? 'ES256' : 'RS256'}: a valid token is accepted, again from the cache, and refused ERR_TOKEN_EXPIRED once exp + tolerance passed`, async () => {
      const i = await issuer(kind);
      const t0 = Date.now();
      let offsetMs = 0;
      const auth = new JwksAuthenticator({ trustDomain: td, issuer: ISSUER, jwks: i.jwks, clockToleranceSeconds: 60, now: () => new Date(t0 + offsetMs) });
      const token = await mint(i, { ttlSeconds: 600, now: new Date(t0) });
      const first = await auth.authenticate({ token });
      expect(first.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
      offsetMs = 600_000 + 59_000; // past exp, inside the tolerance: still valid, as jose says
      expect((await auth.authenticate({ token })).tokenSha256).toBe(first.tokenSha256);
      offsetMs = 600_000 + 60_000; // exp + tolerance: jose refuses, so must the cache
      expect(await asyncCodeOf(auth.authenticate({ token }))).toBe('ERR_TOKEN_EXPIRED');
      offsetMs = 0; // and it was dropped: a clock set back verifies it afresh
      expect((await auth.authenticate({ token })).spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    });
  }

  it('fail/refusals are not cached: the same bad token is refused with the same code every time', async () => {
    const i = await issuer();
    const auth = new JwksAuthenticator({ trustDomain: td, issuer: ISSUER, jwks: i.jwks });
    const wrongAudience = await mint(i, { audiences: ['someone-else'] });
    const [h, p, s] = (await mint(i)).split('.');
    const badSignature = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const other = await issuer();
    const unknownKey = await mint(other);
    for (let n = 0; n < 3; n++) {
      expect(await asyncCodeOf(auth.authenticate({ token: wrongAudience }))).toBe('ERR_TOKEN_AUDIENCE');
      expect(await asyncCodeOf(auth.authenticate({ token: badSignature }))).toBe('ERR_TOKEN_SIGNATURE');
      expect(await asyncCodeOf(auth.authenticate({ token: unknownKey }))).toBe('ERR_TOKEN_UNKNOWN_KEY');
    }
  });

  it('fail/a token not yet valid (nbf) and one whose iat is not a number are refused as jose refuses them', async () => {
    const i = await issuer();
    const t0 = Date.now();
    let offsetMs = 0;
    const auth = new JwksAuthenticator({ trustDomain: td, issuer: ISSUER, jwks: i.jwks, now: () => new Date(t0 + offsetMs) });
    const future = await mint(i, { now: new Date(t0 + 300_000) });
    expect(await asyncCodeOf(auth.authenticate({ token: future }))).toBe('ERR_TOKEN_NOT_YET_VALID');
    offsetMs = 300_000;
    expect((await auth.authenticate({ token: future })).spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
  });

  it('ok/with pod binding required nothing is cached: the pod is looked up for every request, and its deletion refuses the token', async () => {
    const i = await issuer();
    let lookups = 0;
    let podUid = 'uid-1';
    const podLookup: PodLookup = {
      pod: async () => (lookups++, podUid === '' ? undefined : { uid: podUid }),
      serviceAccount: async () => ({ uid: 'sa-uid' }),
    };
    const options: JwksAuthenticatorOptions = { trustDomain: td, issuer: ISSUER, jwks: i.jwks, requirePodBinding: true, podLookup };
    const auth = new JwksAuthenticator(options);
    const token = await mintServiceAccountToken(i.key, i.kid, {
      issuer: ISSUER,
      audiences: ['castellan'],
      namespace: 'shop',
      serviceAccount: 'cart',
      serviceAccountUid: 'sa-uid',
      pod: { name: 'cart-0', uid: 'uid-1' },
      ttlSeconds: 600,
    });
    await auth.authenticate({ token });
    await auth.authenticate({ token });
    expect(lookups).toBe(2);
    podUid = '';
    expect(await asyncCodeOf(auth.authenticate({ token }))).toBe('ERR_TOKEN_POD_BINDING');
  });

  it('ok/tokenCacheSize 0 turns the cache off; a full cache forgets its oldest token and keeps working', async () => {
    const i = await issuer();
    const t0 = Date.now();
    let offsetMs = 0;
    const now = () => new Date(t0 + offsetMs);
    const off = new JwksAuthenticator({ trustDomain: td, issuer: ISSUER, jwks: i.jwks, tokenCacheSize: 0, now });
    const small = new JwksAuthenticator({ trustDomain: td, issuer: ISSUER, jwks: i.jwks, tokenCacheSize: 2, now });
    const tokens = await Promise.all([1, 2, 3].map(() => mint(i, { now: new Date(t0) })));
    for (const token of tokens) {
      await off.authenticate({ token });
      await small.authenticate({ token });
    }
    offsetMs = 3_600_000; // every token expired: whatever was or was not cached, all are refused
    for (const token of tokens) {
      expect(await asyncCodeOf(off.authenticate({ token }))).toBe('ERR_TOKEN_EXPIRED');
      expect(await asyncCodeOf(small.authenticate({ token }))).toBe('ERR_TOKEN_EXPIRED');
    }
  });
});

import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  JwksAuthenticator,
  TrustDomain,
  callerFromServiceAccountClaims,
  jwkKeyId,
  mintServiceAccountToken,
  parseServiceAccountUsername,
  serviceAccountUsername,
  signingAlgorithmFor,
  type AuthErrorCode,
} from '../../workload-identity/index.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';
import { codeOf } from '../helpers/error-code.js';

const td = TrustDomain.of('cluster.local');
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const base = { issuer: ISSUER, audiences: ['castellan'], namespace: 'shop', serviceAccount: 'cart', ttlSeconds: 3600 };

describe('mintServiceAccountToken', () => {
  it('ok/shaped exactly like a projected token: header {alg, kid}, sorted claims, kubernetes.io claim', async () => {
    const { privateKey, publicKey } = ec();
    const kid = await jwkKeyId(publicKey);
    const now = new Date('2030-01-02T03:04:05Z');
    const token = await mintServiceAccountToken(privateKey, kid, {
      ...base,
      pod: { name: 'cart-0', uid: 'b3b5c7a2-0000-4000-8000-000000000001' },
      node: { name: 'node-a', uid: 'b3b5c7a2-0000-4000-8000-000000000002' },
      now,
    });
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'ES256', kid });
    const claims = decodeJwt(token);
    expect(Object.keys(claims)).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'kubernetes.io', 'nbf', 'sub']);
    const iat = Math.floor(now.getTime() / 1000);
    expect(claims).toMatchObject({ aud: ['castellan'], iat, nbf: iat, exp: iat + 3600, iss: ISSUER, sub: 'system:serviceaccount:shop:cart' });
    expect(claims.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const k8s = claims['kubernetes.io'] as Record<string, any>;
    expect(Object.keys(k8s)).toEqual(['namespace', 'node', 'pod', 'serviceaccount']);
    expect(k8s).toMatchObject({ namespace: 'shop', pod: { name: 'cart-0', uid: 'b3b5c7a2-0000-4000-8000-000000000001' }, serviceaccount: { name: 'cart' } });
    expect(k8s['serviceaccount'].uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const verified = await jwtVerify(token, publicKey, { issuer: ISSUER, audience: 'castellan', currentDate: now });
    expect(verified.payload.sub).toBe('system:serviceaccount:shop:cart');
  });

  it('ok/the same claim layout as the kube-apiserver stand-in mints', async () => {
    const api = await KubernetesApiStandIn.start();
    try {
      const real = decodeJwt(await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] }));
      const { privateKey } = ec();
      const ours = decodeJwt(await mintServiceAccountToken(privateKey, 'k', base));
      expect(Object.keys(ours)).toEqual(Object.keys(real));
      expect(Object.keys(ours['kubernetes.io'] as object)).toEqual(Object.keys(real['kubernetes.io'] as object));
    } finally {
      await api.close();
    }
  });

  it('ok/the service-account uid is stable per account; jti is fresh per token', async () => {
    const { privateKey } = ec();
    const a = decodeJwt(await mintServiceAccountToken(privateKey, 'k', base));
    const b = decodeJwt(await mintServiceAccountToken(privateKey, 'k', base));
    const c = decodeJwt(await mintServiceAccountToken(privateKey, 'k', { ...base, serviceAccount: 'other' }));
    const uid = (x: typeof a) => (x['kubernetes.io'] as { serviceaccount: { uid: string } }).serviceaccount.uid;
    expect(uid(a)).toBe(uid(b));
    expect(uid(a)).not.toBe(uid(c));
    expect(a.jti).not.toBe(b.jti);
    expect(uid(decodeJwt(await mintServiceAccountToken(privateKey, 'k', { ...base, serviceAccountUid: 'given' })))).toBe('given');
  });

  it('ok/RS256 for RSA keys, ES384 for P-384 keys', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(decodeProtectedHeader(await mintServiceAccountToken(rsa.privateKey, 'r', base)).alg).toBe('RS256');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(signingAlgorithmFor(p384.privateKey)).toBe('ES384');
  });

  it('ok/accepted by JwksAuthenticator with the dev issuer key as a static JWKS', async () => {
    const { privateKey, publicKey } = ec();
    const kid = await jwkKeyId(publicKey);
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
    const auth = new JwksAuthenticator({ trustDomain: td, issuer: ISSUER, jwks });
    const caller = await auth.authenticate({ token: await mintServiceAccountToken(privateKey, kid, base) });
    expect(caller.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
  });

  it('fail/TypeError for keys and options a real issuer would not use', async () => {
    const { privateKey, publicKey } = ec();
    await expect(mintServiceAccountToken(generateKeyPairSync('ed25519').privateKey, 'k', base)).rejects.toThrow(TypeError);
    await expect(mintServiceAccountToken(publicKey, 'k', base)).rejects.toThrow(TypeError);
    await expect(mintServiceAccountToken(privateKey, '', base)).rejects.toThrow(TypeError);
    await expect(mintServiceAccountToken(privateKey, 'k', { ...base, audiences: [] })).rejects.toThrow(TypeError);
    await expect(mintServiceAccountToken(privateKey, 'k', { ...base, ttlSeconds: 0 })).rejects.toThrow(TypeError);
    await expect(mintServiceAccountToken(privateKey, 'k', { ...base, pod: { name: 'p', uid: '' } })).rejects.toThrow(TypeError);
  });
});

describe('jwkKeyId', () => {
  it('ok/the RFC 7638 thumbprint, the same for the private and the public key, stable', async () => {
    const { privateKey, publicKey } = ec();
    const kid = await jwkKeyId(publicKey);
    expect(kid).toBe(await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256'));
    expect(await jwkKeyId(privateKey)).toBe(kid);
    expect(await jwkKeyId(createPublicKey(privateKey.export({ format: 'pem', type: 'pkcs8' })))).toBe(kid);
    expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('callerFromServiceAccountClaims', () => {
  const claims = (o: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    sub: 'system:serviceaccount:shop:cart',
    aud: ['castellan'],
    'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart', uid: 'u1' }, pod: { name: 'cart-0', uid: 'p1' } },
    ...o,
  });

  it('ok/identity from the kubernetes.io claim, pod included', () => {
    const c = callerFromServiceAccountClaims(td, claims(), { authenticator: 'jwks', tokenSha256: 'ab' });
    expect(c.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(c).toMatchObject({ namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-0', uid: 'p1' }, tokenSha256: 'ab', authenticator: 'jwks' });
  });

  const fail: Array<[string, Record<string, unknown>, AuthErrorCode]> = [
    ['fail/sub disagrees with the claim', claims({ sub: 'system:serviceaccount:shop:admin' }), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'],
    ['fail/no sub', claims({ sub: undefined }), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'],
    ['fail/no kubernetes.io claim', claims({ 'kubernetes.io': undefined }), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'],
    ['fail/kubernetes.io is not an object', claims({ 'kubernetes.io': 'shop' }), 'ERR_TOKEN_MALFORMED'],
    ['fail/no serviceaccount name', claims({ 'kubernetes.io': { namespace: 'shop', serviceaccount: {} } }), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'],
    ['fail/pod claim without uid', claims({ 'kubernetes.io': { namespace: 'shop', serviceaccount: { name: 'cart', uid: 'u' }, pod: { name: 'x' } } }), 'ERR_TOKEN_MALFORMED'],
    [
      'fail/namespace Kubernetes would not accept',
      claims({ sub: 'system:serviceaccount:Shop:cart', 'kubernetes.io': { namespace: 'Shop', serviceaccount: { name: 'cart', uid: 'u' } } }),
      'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
    ],
  ];
  for (const [name, c, code] of fail) {
    it(name, () => expect(codeOf(() => callerFromServiceAccountClaims(td, c, { authenticator: 'jwks' }))).toBe(code));
  }
});

describe('service-account user names', () => {
  it('ok/round trip', () => {
    expect(serviceAccountUsername('shop', 'cart')).toBe('system:serviceaccount:shop:cart');
    expect(parseServiceAccountUsername('system:serviceaccount:shop:cart')).toEqual({ namespace: 'shop', serviceAccount: 'cart' });
  });
  for (const u of ['system:serviceaccount:shop', 'system:serviceaccount:shop:cart:x', 'system:serviceaccount::cart', 'admin', 'system:node:a']) {
    it(`fail/${u}`, () => expect(parseServiceAccountUsername(u)).toBeUndefined());
  }
});

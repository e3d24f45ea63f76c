import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksAuthenticator, TrustDomain, kubernetesPodLookup, type AuthErrorCode, type CallerCredentials, type JwksAuthenticatorOptions } from '../../workload-identity/index.js';
import { openssl, opensslNewEcKey, tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';
import { asyncCodeOf, failureOf } from '../helpers/error-code.js';

const td = TrustDomain.of('cluster.local');
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('JwksAuthenticator against the Kubernetes API stand-in', () => {
  let api: KubernetesApiStandIn;
  let kc: KubeConfig;
  let tmp: ReturnType<typeof tempDir>;

  const options = (o: Partial<JwksAuthenticatorOptions> = {}): JwksAuthenticatorOptions => ({
    trustDomain: td,
    issuer: api.issuer,
    ...(o.jwks === undefined ? { discovery: { discoveryUrl: `${api.url}/.well-known/openid-configuration`, ca: api.caPem, bearerToken: () => api.caToken } } : {}),
    ...o,
  });
  const mint = (o: Partial<Parameters<KubernetesApiStandIn['mintToken']>[0]> = {}) => api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'], ...o });

  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    tmp = tempDir();
    const file = path.join(tmp.dir, 'kubeconfig');
    api.writeKubeconfig(file);
    kc = new KubeConfig();
    kc.loadFromFile(file);
    api.addPod({ namespace: 'shop', name: 'cart-0', serviceAccount: 'cart' });
  });
  afterAll(async () => {
    await api.close();
    tmp.cleanup();
  });

  it('ok/a valid projected token (discovery → JWKS over HTTPS with the API CA and a bearer token)', async () => {
    const token = await mint({ pod: { name: 'cart-0' } });
    const caller = await new JwksAuthenticator(options()).authenticate({ token });
    expect(caller.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(caller).toMatchObject({ namespace: 'shop', serviceAccount: 'cart', authenticator: 'jwks', pod: { name: 'cart-0' } });
    expect(caller.tokenSha256).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('ok/a static key set (the dev issuer)', async () => {
    const caller = await new JwksAuthenticator(options({ jwks: api.jwks() })).authenticate({ token: await mint() });
    expect(caller.serviceAccount).toBe('cart');
  });

  it('ok/pod binding: the bound pod exists with the same uid', async () => {
    const auth = new JwksAuthenticator(options({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) }));
    const caller = await auth.authenticate({ token: await mint({ pod: { name: 'cart-0' } }) });
    expect(caller.pod?.name).toBe('cart-0');
  });

  it('ok/audiences: any one of the configured audiences is enough', async () => {
    const auth = new JwksAuthenticator(options({ audiences: ['castellan', 'istio-ca'] }));
    await expect(auth.authenticate({ token: await mint({ audiences: ['istio-ca'] }) })).resolves.toMatchObject({ namespace: 'shop', serviceAccount: 'cart' });
  });

  const fail: Array<[name: string, credentials: () => Promise<CallerCredentials>, code: AuthErrorCode, o?: () => Partial<JwksAuthenticatorOptions>]> = [
    ['fail/no token', async () => ({}), 'ERR_TOKEN_MISSING'],
    ['fail/empty token', async () => ({ token: '' }), 'ERR_TOKEN_MISSING'],
    ['fail/garbage token', async () => ({ token: 'not-a-jwt' }), 'ERR_TOKEN_MALFORMED'],
    ['fail/garbage in three parts', async () => ({ token: 'a.b.c' }), 'ERR_TOKEN_MALFORMED'],
    ['fail/expired', async () => ({ token: await mint({ now: new Date(Date.now() - 2 * 3_600_000), ttlSeconds: 3600 }) }), 'ERR_TOKEN_EXPIRED'],
    ['fail/not yet valid', async () => ({ token: await mint({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }) }), 'ERR_TOKEN_NOT_YET_VALID'],
    ['fail/wrong audience', async () => ({ token: await mint({ audiences: ['vault'] }) }), 'ERR_TOKEN_AUDIENCE'],
    ['fail/wrong issuer', async () => ({ token: await mint({ claims: { iss: 'https://evil.example' } }) }), 'ERR_TOKEN_ISSUER'],
    [
      'fail/alg none (unsigned, crafted)',
      async () => {
        const payload = decodeJwt(await mint());
        return { token: `${b64({ alg: 'none', kid: api.currentKid })}.${b64(payload)}.` };
      },
      'ERR_TOKEN_ALGORITHM',
    ],
    [
      "fail/HS256 signed with the issuer's public key bytes as the HMAC secret",
      async () => {
        const payload = decodeJwt(await mint());
        const secret = new TextEncoder().encode(api.publicKeyPem());
        return { token: await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: api.currentKid }).sign(secret) };
      },
      'ERR_TOKEN_ALGORITHM',
    ],
    [
      'fail/unknown kid (a key the issuer never published)',
      async () => ({ token: await mint({ signWith: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: 'rogue' } }) }),
      'ERR_TOKEN_UNKNOWN_KEY',
    ],
    [
      'fail/unknown kid even after the re-fetch it triggers',
      async () => ({ token: await mint({ signWith: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: 'rogue' } }) }),
      'ERR_TOKEN_UNKNOWN_KEY',
      () => ({ refetchIntervalMs: 0 }),
    ],
    [
      "fail/a published kid with another key's algorithm (ES384 under the ES256 kid)",
      async () => ({ token: await mint({ signWith: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, kid: api.currentKid } }) }),
      'ERR_TOKEN_ALGORITHM',
    ],
    [
      'fail/signature of another key under the published kid',
      async () => ({ token: await mint({ signWith: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: api.currentKid } }) }),
      'ERR_TOKEN_SIGNATURE',
    ],
    ['fail/algorithm not in the configured allow-list', async () => ({ token: await mint() }), 'ERR_TOKEN_ALGORITHM', () => ({ algorithms: ['RS256'] })],
    [
      'fail/sub disagrees with the kubernetes.io claim',
      async () => ({ token: await mint({ claims: { sub: 'system:serviceaccount:shop:admin' } }) }),
      'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
    ],
    ['fail/no kubernetes.io claim', async () => ({ token: await mint({ claims: { 'kubernetes.io': undefined } }) }), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'],
    ['fail/no exp', async () => ({ token: await mint({ claims: { exp: undefined } }) }), 'ERR_TOKEN_MALFORMED'],
    [
      'fail/pod binding required but the token names no pod',
      async () => ({ token: await mint() }),
      'ERR_TOKEN_POD_BINDING',
      () => ({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) }),
    ],
    [
      'fail/pod binding: the pod was deleted',
      async () => {
        api.addPod({ namespace: 'shop', name: 'cart-gone', serviceAccount: 'cart' });
        const token = await mint({ pod: { name: 'cart-gone' } });
        api.deletePod('shop', 'cart-gone');
        return { token };
      },
      'ERR_TOKEN_POD_BINDING',
      () => ({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) }),
    ],
    [
      'fail/pod binding: a new pod with the same name',
      async () => {
        api.addPod({ namespace: 'shop', name: 'cart-again', serviceAccount: 'cart' });
        const token = await mint({ pod: { name: 'cart-again' } });
        api.addPod({ namespace: 'shop', name: 'cart-again', serviceAccount: 'cart' });
        return { token };
      },
      'ERR_TOKEN_POD_BINDING',
      () => ({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) }),
    ],
    [
      'fail/pod binding: the service account was deleted while its pod still exists',
      async () => {
        api.addPod({ namespace: 'shop', name: 'orders-0', serviceAccount: 'orders' });
        const token = await mint({ serviceAccount: 'orders', pod: { name: 'orders-0' } });
        api.deleteServiceAccount('shop', 'orders');
        return { token };
      },
      'ERR_TOKEN_POD_BINDING',
      () => ({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) }),
    ],
    [
      'fail/pod binding: the service account was re-created under the same name (a new uid)',
      async () => {
        api.addPod({ namespace: 'shop', name: 'billing-0', serviceAccount: 'billing' });
        const token = await mint({ serviceAccount: 'billing', pod: { name: 'billing-0' } });
        api.deleteServiceAccount('shop', 'billing');
        await mint({ serviceAccount: 'billing' }); // the stand-in creates the account again, with a new uid
        return { token };
      },
      'ERR_TOKEN_POD_BINDING',
      () => ({ requirePodBinding: true, podLookup: kubernetesPodLookup(kc) }),
    ],
    [
      'fail/iat a day in the future (TokenReview refuses it too)',
      async () => ({ token: await mint({ claims: { iat: Math.floor(Date.now() / 1000) + 86_400 } }) }),
      'ERR_TOKEN_NOT_YET_VALID',
    ],
    [
      'fail/iat two minutes in the future (beyond the one-minute leeway)',
      async () => ({ token: await mint({ claims: { iat: Math.floor(Date.now() / 1000) + 120 } }) }),
      'ERR_TOKEN_NOT_YET_VALID',
    ],
    [
      'fail/a "crit" header naming an extension (RFC 7515 §4.1.11)',
      async () => ({ token: await mint({ header: { crit: ['castellan.test/ext'], 'castellan.test/ext': true } }) }),
      'ERR_TOKEN_CRITICAL_HEADER',
    ],
    [
      'fail/discovery without the bearer token the API server wants',
      async () => ({ token: await mint() }),
      'ERR_AUTH_BACKEND_UNAVAILABLE',
      () => ({ discovery: { discoveryUrl: `${api.url}/.well-known/openid-configuration`, ca: api.caPem } }),
    ],
    [
      "fail/discovery without the API server's CA",
      async () => ({ token: await mint() }),
      'ERR_AUTH_BACKEND_UNAVAILABLE',
      () => ({ discovery: { discoveryUrl: `${api.url}/.well-known/openid-configuration`, bearerToken: () => api.caToken } }),
    ],
  ];
  for (const [name, credentials, code, o] of fail) {
    it(name, async () => {
      const auth = new JwksAuthenticator(options(o?.()));
      expect(await asyncCodeOf(auth.authenticate(await credentials()))).toBe(code);
    });
  }

  it('ok/iat 30 s in the future is within the one-minute leeway', async () => {
    const token = await mint({ claims: { iat: Math.floor(Date.now() / 1000) + 30 } });
    await expect(new JwksAuthenticator(options()).authenticate({ token })).resolves.toMatchObject({ namespace: 'shop', serviceAccount: 'cart' });
  });

  it('fail/a "crit" header: the message names crit, not alg', async () => {
    const token = await mint({ header: { crit: ['castellan.test/ext'], 'castellan.test/ext': true } });
    const f = await failureOf(new JwksAuthenticator(options()).authenticate({ token }));
    expect(f?.code).toBe('ERR_TOKEN_CRITICAL_HEADER');
    expect(f?.message).toMatch(/"crit"/);
    expect(f?.message).not.toMatch(/"alg"/);
  });

  it('ok/the JWKS is re-fetched after rotateSigningKey(), at most once per refetchIntervalMs', async () => {
    const t0 = Date.now();
    let offsetMs = 0;
    const auth = new JwksAuthenticator(options({ now: () => new Date(t0 + offsetMs) }));
    const before = await mint();
    await auth.authenticate({ token: before }); // first fetch at t0
    const newKid = api.rotateSigningKey();
    const after = await mint();
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    offsetMs = 1_000;
    expect(await asyncCodeOf(auth.authenticate({ token: after }))).toBe('ERR_TOKEN_UNKNOWN_KEY');
    offsetMs = 10_500;
    const caller = await auth.authenticate({ token: after });
    expect(caller.serviceAccount).toBe('cart');
    // the old key is still published, so tokens signed before the rotation keep working
    await expect(auth.authenticate({ token: before })).resolves.toMatchObject({ namespace: 'shop', serviceAccount: 'cart' });
  });

  it('fail/TypeError for configuration that could accept forged tokens', () => {
    for (const algorithms of [['none'], ['HS256'], ['RS256', 'HS512'], []]) {
      expect(() => new JwksAuthenticator(options({ algorithms }))).toThrow(TypeError);
    }
    expect(() => new JwksAuthenticator({ ...options(), jwks: api.jwks() })).toThrow(/not both/);
    expect(() => new JwksAuthenticator({ trustDomain: td, issuer: 'http://plain.example' })).toThrow(/https/);
    expect(() => new JwksAuthenticator(options({ requirePodBinding: true }))).toThrow(/podLookup/);
    expect(() => new JwksAuthenticator(options({ audiences: [] }))).toThrow(TypeError);
  });
});

describe('JwksAuthenticator key lifetime', () => {
  it('ok/keys older than jwksMaxAgeMs are refreshed in the background, so a removed key stops working', async () => {
    const api = await KubernetesApiStandIn.start({ anonymousDiscovery: true });
    try {
      const t0 = Date.now();
      let offsetMs = 0;
      const auth = new JwksAuthenticator({
        trustDomain: td,
        issuer: api.issuer,
        discovery: { discoveryUrl: `${api.url}/.well-known/openid-configuration`, ca: api.caPem },
        jwksMaxAgeMs: 60_000,
        now: () => new Date(t0 + offsetMs),
      });
      const old = await api.mintToken({ namespace: 'web', serviceAccount: 'front', audiences: ['castellan'] });
      await auth.authenticate({ token: old });
      const oldKid = api.currentKid;
      api.rotateSigningKey();
      api.removeKey(oldKid);
      offsetMs = 30_000; // keys still fresh: no fetch
      await expect(auth.authenticate({ token: old })).resolves.toMatchObject({ namespace: 'web', serviceAccount: 'front' });
      offsetMs = 61_000; // stale: answered from the old set while a refresh runs
      await expect(auth.authenticate({ token: old })).resolves.toMatchObject({ namespace: 'web', serviceAccount: 'front' });
      let code: string | undefined;
      for (let i = 0; i < 100 && code === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        code = await asyncCodeOf(auth.authenticate({ token: old }));
      }
      expect(code).toBe('ERR_TOKEN_UNKNOWN_KEY');
    } finally {
      await api.close();
    }
  });
});

describe('JwksAuthenticator discovery under the issuer URL, and an unreachable issuer', () => {
  it('ok/discovers <issuer>/.well-known/openid-configuration; stale keys outlive an outage; fail/unreachable', async () => {
    const api = await KubernetesApiStandIn.start({ issuer: (url) => url, anonymousDiscovery: true });
    const token = await api.mintToken({ namespace: 'web', serviceAccount: 'front', audiences: ['castellan'] });
    const t0 = Date.now();
    let offsetMs = 0;
    const auth = new JwksAuthenticator({ trustDomain: td, issuer: api.issuer, discovery: { ca: api.caPem }, jwksMaxAgeMs: 1_000, now: () => new Date(t0 + offsetMs) });
    expect((await auth.authenticate({ token })).spiffeId.toString()).toBe('spiffe://cluster.local/ns/web/sa/front');
    await api.close();
    offsetMs = 12_000; // keys are stale and the refresh fails: keep using them
    await expect(auth.authenticate({ token })).resolves.toMatchObject({ namespace: 'web', serviceAccount: 'front' });
    await new Promise((r) => setTimeout(r, 50));
    await expect(auth.authenticate({ token })).resolves.toMatchObject({ namespace: 'web', serviceAccount: 'front' });
    const fresh = new JwksAuthenticator({ trustDomain: td, issuer: api.issuer, discovery: { ca: api.caPem } });
    expect(await asyncCodeOf(fresh.authenticate({ token }))).toBe('ERR_AUTH_BACKEND_UNAVAILABLE');
  });
});

// Which hosts receive the discovery bearer token (the CA's own credential): always the discovery URL; a
// jwks_uri on another origin only when a CA is configured, so only a server holding a certificate of
// that CA can receive it. Two HTTPS servers under one test CA: A serves discovery naming B's key set.
describe('JwksAuthenticator: the bearer token and a jwks_uri on another origin', () => {
  let api: KubernetesApiStandIn;
  let tmp: ReturnType<typeof tempDir>;
  let caPem: string;
  let discovery: Server;
  let keys: Server;
  const seen: { discovery: boolean[]; keys: boolean[] } = { discovery: [], keys: [] };
  const discoveryUrl = () => `https://localhost:${(discovery.address() as AddressInfo).port}/.well-known/openid-configuration`;
  const BEARER = 'ca-own-service-account-token';

  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    tmp = tempDir();
    const f = (n: string) => path.join(tmp.dir, n);
    const run = (args: string[]) => expect(openssl(args).status).toBe(0);
    expect(
      opensslNewEcKey({
        x509: true,
        keyOut: f('ca.key'),
        out: f('ca.pem'),
        subj: '/CN=jwks-test-ca',
        extra: ['-days', '1', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'],
      }).status,
    ).toBe(0);
    expect(
      opensslNewEcKey({ x509: false, keyOut: f('tls.key'), out: f('tls.csr'), subj: '/CN=jwks-test', extra: ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'] }).status,
    ).toBe(0);
    run(['x509', '-req', '-in', f('tls.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '7', '-days', '1', '-copy_extensions', 'copyall', '-out', f('tls.pem')]);
    caPem = readFileSync(f('ca.pem'), 'utf8');
    const tls = { key: readFileSync(f('tls.key')), cert: readFileSync(f('tls.pem')) };
    const listen = async (s: Server) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    keys = createHttpsServer(tls, (req, res) => {
      seen.keys.push(req.headers.authorization === `Bearer ${BEARER}`);
      res.setHeader('content-type', 'application/jwk-set+json');
      res.end(JSON.stringify(api.jwks()));
    });
    await listen(keys);
    discovery = createHttpsServer(tls, (req, res) => {
      seen.discovery.push(req.headers.authorization === `Bearer ${BEARER}`);
      res.setHeader('content-type', 'application/json');
      // Another origin than the discovery URL (localhost): the IP, as kube-apiserver's advertise address.
      res.end(JSON.stringify({ issuer: api.issuer, jwks_uri: `https://127.0.0.1:${(keys.address() as AddressInfo).port}/openid/v1/jwks` }));
    });
    await listen(discovery);
  });
  afterAll(async () => {
    for (const s of [discovery, keys]) await new Promise((resolve) => s?.close(resolve));
    await api.close();
    tmp.cleanup();
  });

  it('ok/with the CA configured, both the discovery URL and the jwks_uri get the token', async () => {
    seen.discovery.length = 0;
    seen.keys.length = 0;
    const auth = new JwksAuthenticator({ trustDomain: td, issuer: api.issuer, discovery: { discoveryUrl: discoveryUrl(), ca: caPem, bearerToken: () => BEARER } });
    await auth.authenticate({ token: await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] }) });
    expect(seen).toEqual({ discovery: [true], keys: [true] });
  });

  it('fail/without a configured CA (public roots), a jwks_uri on another origin never gets the token', async () => {
    seen.discovery.length = 0;
    seen.keys.length = 0;
    // Node's default roots cannot be changed in a running process: a child trusts the test CA through
    // NODE_EXTRA_CA_CERTS, as a public CA would be trusted, and the authenticator is given no `ca`.
    const script = [
      "import 'reflect-metadata';",
      "import { JwksAuthenticator, TrustDomain } from './workload-identity/index.ts';",
      `const auth = new JwksAuthenticator({ trustDomain: TrustDomain.of('cluster.local'), issuer: process.env.ISSUER, discovery: { discoveryUrl: process.env.DISCOVERY_URL, bearerToken: () => ${JSON.stringify(BEARER)} } });`,
      'const caller = await auth.authenticate({ token: process.env.TOKEN });',
      'console.log(JSON.stringify({ serviceAccount: caller.serviceAccount }));',
    ].join('\n');
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] });
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(tmp.dir, 'ca.pem'), ISSUER: api.issuer, DISCOVERY_URL: discoveryUrl(), TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toEqual({ serviceAccount: 'cart' });
    expect(seen).toEqual({ discovery: [true], keys: [false] });
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derToPem, generateKey, initCa, loadCa, type CaServer } from '../../../ca/index.js';
import { createSvidRequest, SpiffeId, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { tamperSignature, testCsr } from '../../helpers/csr.js';
import { opensslVerify, tempDir } from '../../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../../k8s/api-stand-in.js';

const OK = 0;
const INVALID_ARGUMENT = 3;
const PERMISSION_DENIED = 7;
const RESOURCE_EXHAUSTED = 8;
const UNAUTHENTICATED = 16;

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

interface IstioResponse {
  certChain: string[];
}

let t: ReturnType<typeof tempDir>;
let api: KubernetesApiStandIn;
let caDir: string;
let bundlePem: string;
let jwks: Awaited<ReturnType<typeof testCaServer>>;
let client: ReturnType<typeof caClients>;

beforeAll(async () => {
  t = tempDir();
  api = await KubernetesApiStandIn.start();
  caDir = path.join(t.dir, 'ca');
  await initCa({ dir: caDir, trustDomain: TrustDomain.of('cluster.local') });
  bundlePem = (await loadCa(caDir)).bundle.map((c) => c.pem).join('');
  writeFileSync(path.join(t.dir, 'api-ca.pem'), api.caPem);
  writeFileSync(path.join(t.dir, 'discovery-token'), await api.mintToken({ namespace: 'castellan-system', serviceAccount: 'castellan' }));
  jwks = await testCaServer(caDir, {
    authentication: {
      jwks: {
        issuer: api.issuer,
        discoveryUrl: `${api.url}/.well-known/openid-configuration`,
        caFile: path.join(t.dir, 'api-ca.pem'),
        bearerTokenFile: path.join(t.dir, 'discovery-token'),
        audiences: ['castellan'],
      },
    },
    maxWorkloadTtl: 48 * 3_600_000,
    policy: { denyNamespaces: ['forbidden'] },
    limits: { maxRequestBytes: 65_536 },
  });
  client = caClients(jwks.address, bundlePem);
});

afterAll(async () => {
  client?.close();
  await jwks?.server.shutdown(1000);
  await api?.close();
  t?.cleanup();
});

const token = (ns = 'default', sa = 'web', extra: Parameters<KubernetesApiStandIn['mintToken']>[0] extends infer O ? Partial<O> : never = {}) =>
  api.mintToken({ namespace: ns, serviceAccount: sa, audiences: ['castellan'], ...extra });

async function createCertificate(csr: string, tok: string | undefined, validityDuration = 3600) {
  return unary<IstioResponse>(client.istio, 'CreateCertificate', { csr, validityDuration }, tok);
}

describe('Istio CreateCertificate with JWKS authentication (issuer discovery against the API stand-in)', () => {
  it('ok/a valid projected token gets leaf, intermediate and root; openssl -x509_strict accepts the chain', async () => {
    const r = await createCertificate((await testCsr({ uris: [id('default', 'web')] })).pem, await token());
    expect(r.details).toBeUndefined();
    expect(r.code).toBe(OK);
    const chain = r.response!.certChain;
    expect(chain).toHaveLength(3);
    expect(chain[2]).toBe(bundlePem); // the last entry is every trusted root
    const v = opensslVerify(t.dir, chain[0]!, chain.slice(1));
    expect(v.stdout.trim()).toMatch(/: OK$/);
    expect(v.status).toBe(0);
  });

  it('ok/a CSR without SANs gets the identity of the token', async () => {
    const r = await createCertificate((await testCsr()).pem, await token('shop', 'cart'));
    expect(r.code).toBe(OK);
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(r.response!.certChain[0]!).subjectAltName).toBe(`URI:${id('shop', 'cart')}`);
  });

  const refusals: [string, () => Promise<{ csr: string; token: string | undefined; ttl?: number }>, number][] = [
    ['fail/no token', async () => ({ csr: (await testCsr()).pem, token: undefined }), UNAUTHENTICATED],
    ['fail/garbage token', async () => ({ csr: (await testCsr()).pem, token: 'not-a-jwt' }), UNAUTHENTICATED],
    ['fail/expired token', async () => ({ csr: (await testCsr()).pem, token: await token('default', 'web', { now: new Date(Date.now() - 3 * 3_600_000) }) }), UNAUTHENTICATED],
    ['fail/token not yet valid', async () => ({ csr: (await testCsr()).pem, token: await token('default', 'web', { now: new Date(Date.now() + 3_600_000) }) }), UNAUTHENTICATED],
    ['fail/wrong audience', async () => ({ csr: (await testCsr()).pem, token: await token('default', 'web', { audiences: ['vault'] }) }), UNAUTHENTICATED],
    ['fail/wrong issuer', async () => ({ csr: (await testCsr()).pem, token: await token('default', 'web', { claims: { iss: 'https://evil.example' } }) }), UNAUTHENTICATED],
    [
      'fail/alg none',
      async () => {
        const payload = decodeJwt(await token());
        return { csr: (await testCsr()).pem, token: `${b64({ alg: 'none', kid: api.currentKid })}.${b64(payload)}.` };
      },
      UNAUTHENTICATED,
    ],
    [
      'fail/HS256 signed with the issuer public key as HMAC secret',
      async () => {
        const payload = decodeJwt(await token());
        const secret = Buffer.from(api.publicKeyPem());
        return { csr: (await testCsr()).pem, token: await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: api.currentKid }).sign(secret) };
      },
      UNAUTHENTICATED,
    ],
    [
      'fail/unknown kid',
      async () => {
        const k = generateKey('ec-p256').privateKey;
        return { csr: (await testCsr()).pem, token: await token('default', 'web', { signWith: { privateKey: k, kid: 'never-published' } }) };
      },
      UNAUTHENTICATED,
    ],
    ['fail/token for SA a, CSR SAN for SA b', async () => ({ csr: (await testCsr({ uris: [id('default', 'b')] })).pem, token: await token('default', 'a') }), PERMISSION_DENIED],
    ['fail/CSR with a bad signature', async () => ({ csr: derToPem(tamperSignature((await testCsr()).der), 'CERTIFICATE REQUEST'), token: await token() }), INVALID_ARGUMENT],
    ['fail/CSR asking for CA:true', async () => ({ csr: (await testCsr({ ca: true })).pem, token: await token() }), INVALID_ARGUMENT],
    ['fail/RSA-1024 key', async () => ({ csr: (await testCsr({ key: 'rsa-1024' })).pem, token: await token() }), INVALID_ARGUMENT],
    ['fail/garbage CSR', async () => ({ csr: 'hello', token: await token() }), INVALID_ARGUMENT],
    ['fail/TTL above max', async () => ({ csr: (await testCsr()).pem, token: await token(), ttl: 30 * 86_400 }), INVALID_ARGUMENT],
    ['fail/negative TTL', async () => ({ csr: (await testCsr()).pem, token: await token(), ttl: -1 }), INVALID_ARGUMENT],
    ['fail/oversized request', async () => ({ csr: 'A'.repeat(200_000), token: await token() }), RESOURCE_EXHAUSTED],
    ['fail/namespace denied by policy', async () => ({ csr: (await testCsr()).pem, token: await token('forbidden', 'web') }), PERMISSION_DENIED],
  ];
  for (const [name, make, code] of refusals) {
    it(`${name} -> ${code}, with a message`, async () => {
      const c = await make();
      const r = await createCertificate(c.csr, c.token, c.ttl ?? 3600);
      expect(r.code, r.details).toBe(code);
      expect(r.details?.length).toBeGreaterThan(10);
      expect(r.details).not.toMatch(/\bat \w+ \(|node_modules/); // no stack traces
    });
  }

  it('ok/the server still serves after all those refusals', async () => {
    const r = await createCertificate((await testCsr()).pem, await token());
    expect(r.code).toBe(OK);
  });

  it('ok/no token ever reaches the log, only its SHA-256', async () => {
    const tok = await token('default', 'logcheck');
    await createCertificate((await testCsr({ uris: [id('default', 'other')] })).pem, tok);
    const log = jwks.lines.join('');
    expect(log).not.toContain(tok);
    expect(log).not.toContain(tok.split('.')[2]!);
    const { createHash } = await import('node:crypto');
    expect(log).toContain(createHash('sha256').update(tok).digest('hex'));
  });
});

describe('renewal by client certificate', () => {
  it('ok/a still-valid SVID renews the same identity without a token', async () => {
    const spiffe = SpiffeId.parse(id('default', 'renewer'));
    const key = generateKey('ec-p256').privateKey;
    const first = await createCertificate(derToPem(await createSvidRequest(key, spiffe), 'CERTIFICATE REQUEST'), await token('default', 'renewer'));
    expect(first.code).toBe(OK);
    const chain = first.response!.certChain;
    const mtls = caClients(jwks.address, bundlePem, { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: chain[0]! + chain[1]! });
    try {
      const r = await unary<IstioResponse>(mtls.istio, 'CreateCertificate', { csr: (await testCsr({ uris: [spiffe.toString()] })).pem, validityDuration: 600 });
      expect(r.details).toBeUndefined();
      expect(r.code).toBe(OK);
      const { X509Certificate } = await import('node:crypto');
      expect(new X509Certificate(r.response!.certChain[0]!).subjectAltName).toBe(`URI:${spiffe.toString()}`);
      // the certificate renews only its own identity
      const other = await unary(mtls.istio, 'CreateCertificate', { csr: (await testCsr({ uris: [id('default', 'someone-else')] })).pem });
      expect(other.code).toBe(PERMISSION_DENIED);
    } finally {
      mtls.close();
    }
  });

  it('fail/a certificate from another CA is no credential', async () => {
    const other = tempDir();
    try {
      const ca = await initCa({ dir: path.join(other.dir, 'ca'), trustDomain: TrustDomain.of('cluster.local') });
      const { Issuer } = await import('../../../ca/index.js');
      const key = generateKey('ec-p256').privateKey;
      const spiffe = SpiffeId.parse(id('default', 'intruder'));
      const c = new Issuer({ authority: ca.active }).issue(spiffe, await createSvidRequest(key, spiffe));
      const mtls = caClients(jwks.address, bundlePem, { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: c.leafPem + c.chainPem[0] });
      try {
        const r = await unary(mtls.istio, 'CreateCertificate', { csr: (await testCsr()).pem });
        expect(r.code).toBe(UNAUTHENTICATED);
      } finally {
        mtls.close();
      }
    } finally {
      other.cleanup();
    }
  });
});

describe('Castellan API', () => {
  it('ok/Sign returns leaf, intermediates and the trust bundle as separate fields', async () => {
    const csr = (await testCsr()).der;
    const r = await unary<{
      spiffeId: string;
      leaf: string;
      intermediates: string[];
      trustBundle: string[];
      bundleSequence: number;
      serial: string;
      notAfter: { seconds: number };
    }>(client.castellan, 'Sign', { csr, ttlSeconds: 600 }, await token('default', 'api'));
    expect(r.code).toBe(OK);
    const s = r.response!;
    expect(s.spiffeId).toBe(id('default', 'api'));
    expect(s.intermediates).toHaveLength(1);
    expect(s.trustBundle.join('')).toBe(bundlePem);
    expect(s.bundleSequence).toBe(1);
    expect(s.serial).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(s.notAfter.seconds - (Date.now() / 1000 + 600))).toBeLessThan(5);
    expect(opensslVerify(t.dir, s.leaf, [...s.intermediates, s.trustBundle[0]!]).status).toBe(0);
  });

  it('ok/WatchTrustBundle sends the bundle at once, then every change with the next sequence number', async () => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${await token('default', 'agent')}`);
    const stream = (
      client.castellan as unknown as { WatchTrustBundle(r: object, m: Metadata): ClientReadableStream<{ sequence: number; roots: string[]; trustDomain: string }> }
    ).WatchTrustBundle({ agentId: 'test' }, md);
    stream.on('error', () => undefined); // cancel() below ends it with CANCELLED
    const received: { sequence: number; roots: string[] }[] = [];
    const next = () => new Promise<void>((resolve) => stream.once('data', (m) => (received.push(m), resolve())));
    await next();
    expect(received[0]).toMatchObject({ sequence: 1, roots: [bundlePem], trustDomain: 'cluster.local' });
    const extra = tempDir();
    try {
      const other = await initCa({ dir: path.join(extra.dir, 'ca'), trustDomain: TrustDomain.of('cluster.local') });
      const pushed = next();
      const ca = await loadCa(caDir);
      jwks.server.trustBundle.update([...ca.bundle, other.active.root]);
      await pushed;
      expect(received[1]!.sequence).toBe(2);
      expect(received[1]!.roots).toHaveLength(2);
      jwks.server.trustBundle.update(ca.bundle); // restore
      await next();
      expect(received[2]!.sequence).toBe(3);
    } finally {
      stream.cancel();
      extra.cleanup();
    }
  });

  it('fail/WatchTrustBundle without credentials is UNAUTHENTICATED', async () => {
    const stream = (client.castellan as unknown as { WatchTrustBundle(r: object): ClientReadableStream<unknown> }).WatchTrustBundle({});
    const code = await new Promise<number>((resolve) => {
      stream.on('error', (e: { code: number }) => resolve(e.code));
      stream.on('data', () => resolve(OK));
    });
    expect(code).toBe(UNAUTHENTICATED);
  });

  it('ok/GetAuthorityStatus lists the active authority', async () => {
    const r = await unary<{ trustDomain: string; bundleSequence: number; authorities: { id: number; state: string; rootSubject: string }[] }>(
      client.castellan,
      'GetAuthorityStatus',
      {},
      await token(),
    );
    expect(r.code).toBe(OK);
    expect(r.response!.trustDomain).toBe('cluster.local');
    expect(r.response!.authorities).toEqual([expect.objectContaining({ id: 1, state: 'active', rootSubject: 'O=cluster.local, CN=Castellan Root CA 1' })]);
  });

  it('ok/Authenticate answers the identity a token stands for, and signs nothing', async () => {
    const issuedBefore = jwks.lines.filter((l) => l.includes('"event":"issued"')).length;
    const r = await unary<{ spiffeId: string }>(client.castellan, 'Authenticate', {}, await token('default', 'api'));
    expect(r.code).toBe(OK);
    expect(r.response!.spiffeId).toBe(id('default', 'api'));
    expect(jwks.lines.filter((l) => l.includes('"event":"issued"')).length).toBe(issuedBefore);
  });

  const refusals: [string, () => Promise<string | undefined>, number][] = [
    ['no token', async () => undefined, UNAUTHENTICATED],
    ['wrong audience', () => token('default', 'api', { audiences: ['vault'] }), UNAUTHENTICATED],
    ['denied namespace', () => token('forbidden', 'x'), PERMISSION_DENIED],
  ];
  for (const [what, tok, code] of refusals) {
    it(`fail/Authenticate with ${what} -> ${code}, logged with the token's SHA-256 only`, async () => {
      const value = await tok();
      const r = await unary(client.castellan, 'Authenticate', {}, value);
      expect(r.code).toBe(code);
      expect(r.details).toBeTruthy();
      if (value !== undefined) expect(jwks.lines.join('')).not.toContain(value);
    });
  }
});

describe('health and metrics', () => {
  it('ok/healthz, readyz and Prometheus metrics', async () => {
    const base = `http://127.0.0.1:${jwks.server.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('ready\n');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/castellan_csr_total\{outcome="issued",api="istio"\} [1-9]/);
    expect(metrics).toMatch(/castellan_csr_total\{outcome="ERR_TOKEN_EXPIRED",api="istio"\} 1/);
    expect(metrics).toMatch(/castellan_authentication_failures_total\{reason="ERR_TOKEN_ALGORITHM"\} [1-9]/);
    expect(metrics).toMatch(/castellan_issuance_duration_seconds_count [1-9]/);
    expect(metrics).toMatch(/castellan_authority_expiry_seconds\{authority="1",kind="root"\} 3\d{8}/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});

describe('TokenReview authentication', () => {
  let server: CaServer;
  let tr: ReturnType<typeof caClients>;
  beforeAll(async () => {
    api.writeKubeconfig(path.join(t.dir, 'kubeconfig'));
    const s = await testCaServer(caDir, { authentication: { tokenReview: { kubeconfig: path.join(t.dir, 'kubeconfig'), audiences: ['castellan'] } } });
    server = s.server;
    tr = caClients(s.address, bundlePem);
  });
  afterAll(async () => {
    tr.close();
    await server.shutdown(1000);
  });

  it('ok/a valid token is accepted, and 20 requests with it cost one TokenReview', async () => {
    const tok = await token('default', 'cached');
    const before = api.tokenReviewCount;
    for (let i = 0; i < 20; i++) {
      const r = await unary(tr.istio, 'CreateCertificate', { csr: (await testCsr()).pem, validityDuration: 600 }, tok);
      expect(r.code).toBe(OK);
    }
    expect(api.tokenReviewCount - before).toBe(1);
  });

  it('fail/a token of a deleted pod is refused by the API server', async () => {
    api.addPod({ namespace: 'default', name: 'doomed', serviceAccount: 'web' });
    const tok = await token('default', 'web', { pod: { name: 'doomed' } });
    api.deletePod('default', 'doomed');
    const r = await unary(tr.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok);
    expect(r.code).toBe(UNAUTHENTICATED);
  });
});

describe('dev issuer and limits', () => {
  it('ok/without config the CA trusts its own dev issuer; the per-identity rate limit answers RESOURCE_EXHAUSTED', async () => {
    const s = await testCaServer(caDir, { limits: { perIdentity: { ratePerSecond: 0.001, burst: 2 } } }, true);
    const c = caClients(s.address, bundlePem);
    try {
      const { loadDevTokenIssuer } = await import('../../../ca/index.js');
      const { mintServiceAccountToken } = await import('../../../workload-identity/index.js');
      const dev = await loadDevTokenIssuer(caDir);
      const tok = await mintServiceAccountToken(dev.privateKey, dev.kid, {
        issuer: dev.issuer,
        audiences: ['castellan'],
        namespace: 'default',
        serviceAccount: 'web',
        ttlSeconds: 600,
      });
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok)).code);
      expect(codes).toEqual([OK, OK, RESOURCE_EXHAUSTED]);
      // a token of the stand-in's issuer is not trusted by a dev-mode CA
      expect((await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, await token())).code).toBe(UNAUTHENTICATED);
    } finally {
      c.close();
      await s.server.shutdown(1000);
    }
  });
});

describe('graceful shutdown', () => {
  it('ok/readiness turns 503, new calls are refused, and the server stops', async () => {
    const s = await testCaServer(caDir, {}, true);
    const base = `http://127.0.0.1:${s.server.httpPort}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const stopping = s.server.shutdown(2000);
    await stopping;
    const c = caClients(s.address, bundlePem);
    try {
      const r = await unary(c.istio, 'CreateCertificate', { csr: 'x' }, 'y', 2000);
      expect(r.code).toBe(14); // UNAVAILABLE: nothing listens any more
    } finally {
      c.close();
    }
  });
});

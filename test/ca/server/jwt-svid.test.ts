// SignJwtSvid over real gRPC/TLS (docs/jwt-svid.md): sub from the caller's credentials, bounded audience
// lists, the right status for each refusal, every answer in the ledger, and the JWT keys in
// WatchTrustBundle.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORITY_FILES, authorityDir, initCa, loadCa, loadDevTokenIssuer, openLedgerStore } from '../../../ca/index.js';
import { decodeJwtSvid, mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';

const OK = 0;
const INVALID_ARGUMENT = 3;
const PERMISSION_DENIED = 7;
const FAILED_PRECONDITION = 9;
const UNAUTHENTICATED = 16;

interface SignJwtSvidResponse {
  spiffeId: string;
  token: string;
  keyId: string;
  expiresAt: { seconds: number };
}

async function devCa(dir: string, policy = {}) {
  await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
  const server = await testCaServer(dir, { policy }, true);
  const issuer = await loadDevTokenIssuer(dir);
  const mint = (namespace: string, serviceAccount: string) =>
    mintServiceAccountToken(issuer.privateKey, issuer.kid, { issuer: issuer.issuer, audiences: ['castellan'], namespace, serviceAccount, ttlSeconds: 600 });
  const client = caClients(server.address, (await loadCa(dir)).bundle.map((c) => c.pem).join(''));
  return { server, mint, client };
}

describe('SignJwtSvid', () => {
  let t: ReturnType<typeof tempDir>;
  let env: Awaited<ReturnType<typeof devCa>>;
  const caDir = () => path.join(t.dir, 'ca');

  beforeAll(async () => {
    t = tempDir();
    env = await devCa(caDir(), { denyNamespaces: ['forbidden'] });
  }, 30_000);
  afterAll(async () => {
    env?.client.close();
    await env?.server.server.shutdown(100);
    t?.cleanup();
  });

  it("ok/sub is the token's identity; kid is a key WatchTrustBundle publishes", async () => {
    const r = await unary<SignJwtSvidResponse>(env.client.castellan, 'SignJwtSvid', { audience: ['api'], ttlSeconds: 60 }, await env.mint('shop', 'cart'));
    expect(r.code).toBe(OK);
    expect(r.response!.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    const d = decodeJwtSvid(r.response!.token);
    expect(d.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect((d.claims['exp'] as number) - (d.claims['iat'] as number)).toBe(60);
    expect(d.header.kid).toBe(r.response!.keyId);
    const md = new Metadata();
    md.set('authorization', `Bearer ${await env.mint('shop', 'agent')}`);
    const stream = (
      env.client.castellan as unknown as { WatchTrustBundle(r: object, m: Metadata): ClientReadableStream<{ jwtAuthorities: { keyId: string; publicKey: Buffer }[] }> }
    ).WatchTrustBundle({ agentId: 't' }, md);
    const first = await new Promise<{ jwtAuthorities: { keyId: string; publicKey: Buffer }[] }>((resolve) => stream.once('data', resolve));
    stream.cancel();
    stream.on('error', () => undefined);
    expect(first.jwtAuthorities.map((a) => a.keyId)).toEqual([d.header.kid]);
    expect(first.jwtAuthorities[0]!.publicKey.length).toBeGreaterThan(60);
  });

  it('fail/no audience, 1000 audiences, a lifetime above the maximum → INVALID_ARGUMENT with the stable code; each refusal is in the ledger', async () => {
    const token = await env.mint('shop', 'cart');
    const none = await unary(env.client.castellan, 'SignJwtSvid', { audience: [] }, token);
    expect(none.code).toBe(INVALID_ARGUMENT);
    expect(none.details).toContain('no audience');
    const many = await unary(env.client.castellan, 'SignJwtSvid', { audience: Array.from({ length: 1000 }, (_, i) => `aud-${i}`) }, token);
    expect(many.code).toBe(INVALID_ARGUMENT);
    const long = await unary(env.client.castellan, 'SignJwtSvid', { audience: ['a'], ttlSeconds: 86_400 }, token);
    expect(long.code).toBe(INVALID_ARGUMENT);
    const store = await openLedgerStore({ dir: caDir(), readOnly: true });
    try {
      await until(
        async () => (await store.query({ outcome: 'refused', spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' })).filter((r) => r.api === 'jwt-svid').length >= 3,
        'three refusals',
      );
      const reasons = (await store.query({ outcome: 'refused', spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' })).filter((r) => r.api === 'jwt-svid').map((r) => r.reason);
      expect(reasons.sort()).toEqual(['ERR_JWT_AUDIENCE', 'ERR_JWT_AUDIENCE', 'ERR_TTL_TOO_LONG']);
    } finally {
      await store.close();
    }
  });

  it('fail/no credentials → UNAUTHENTICATED; a denied namespace → PERMISSION_DENIED', async () => {
    expect((await unary(env.client.castellan, 'SignJwtSvid', { audience: ['a'] })).code).toBe(UNAUTHENTICATED);
    expect((await unary(env.client.castellan, 'SignJwtSvid', { audience: ['a'] }, 'garbage')).code).toBe(UNAUTHENTICATED);
    expect((await unary(env.client.castellan, 'SignJwtSvid', { audience: ['a'] }, await env.mint('forbidden', 'x'))).code).toBe(PERMISSION_DENIED);
  });

  it('fail/a CA whose authorities predate JWT-SVIDs → FAILED_PRECONDITION saying how to get a key; X.509 keeps working', async () => {
    const dir = path.join(t.dir, 'legacy');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    rmSync(path.join(authorityDir(dir, 1), AUTHORITY_FILES.jwtKey));
    const server = await testCaServer(dir, {}, true);
    const issuer = await loadDevTokenIssuer(dir);
    const client = caClients(server.address, (await loadCa(dir)).bundle.map((c) => c.pem).join(''));
    try {
      const token = await mintServiceAccountToken(issuer.privateKey, issuer.kid, {
        issuer: issuer.issuer,
        audiences: ['castellan'],
        namespace: 'a',
        serviceAccount: 'b',
        ttlSeconds: 600,
      });
      const r = await unary(client.castellan, 'SignJwtSvid', { audience: ['a'] }, token);
      expect(r.code).toBe(FAILED_PRECONDITION);
      expect(r.details).toContain('castellan root prepare');
      expect(server.server.trustBundle.current().jwtAuthorities).toEqual([]);
      const status = await unary(client.castellan, 'GetAuthorityStatus', {}, token);
      expect(status.code).toBe(OK);
    } finally {
      client.close();
      await server.server.shutdown(100);
    }
  });
});

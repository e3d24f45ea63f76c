// The JWT-SVID profile of the Workload API end to end: a real CA, a real agent (sidecar and node mode),
// the agent's socket, and the CA's ledger.
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerStore, prepareRoot } from '../../ca/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import { decodeJwtSvid } from '../../workload-identity/index.js';
import { EnvoySdsClient } from '../helpers/envoy-sds-client.js';
import { until } from '../helpers/until.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';

const claim = (v: Record<string, unknown> | undefined) => (v === undefined ? undefined : (v['stringValue'] ?? v['numberValue'] ?? v['listValue']));

describe('Workload API JWT-SVID profile against a real CA', () => {
  let f: Awaited<ReturnType<typeof agentFixture>>;
  let sidecar: Agent;
  let node: Agent;
  let client: EnvoySdsClient;
  const clients: EnvoySdsClient[] = [];

  beforeAll(async () => {
    f = await agentFixture({ config: { rotation: { reloadInterval: 200 } } });
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    sidecar = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      tokenFile,
      socketPath: path.join(f.dir, 's.sock'),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    node = await startAgent({
      mode: 'node',
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      socketPath: path.join(f.dir, 'n.sock'),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    client = new EnvoySdsClient(path.join(f.dir, 's.sock'));
    clients.push(client);
    // The agent serves once its bundle (with the CA's JWT key) arrived.
    await until(() => (sidecar.trustBundle()?.jwtAuthorities?.length ?? 0) > 0);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await sidecar?.close();
    await node?.close();
    await f?.cleanup();
  });

  it('ok/FetchJWTSVID: sub is the pod identity, aud as asked, ES256 with the kid of the published key, 5 minutes', async () => {
    const r = await client.jwtSvid(['spiffe://cluster.local/ns/shop/sa/api']);
    expect(r.status.code).toBe(status.OK);
    expect(r.res!.svids).toHaveLength(1);
    const svid = r.res!.svids[0]!;
    expect(svid.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    const d = decodeJwtSvid(svid.svid);
    expect(d.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(d.claims['aud']).toEqual(['spiffe://cluster.local/ns/shop/sa/api']);
    expect(d.header.alg).toBe('ES256');
    const header = JSON.parse(Buffer.from(svid.svid.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(Object.keys(header).sort()).toEqual(['alg', 'kid', 'typ']);
    expect((d.claims['exp'] as number) - (d.claims['iat'] as number)).toBe(300);
    const published = f.ca.server.trustBundle.current().jwtAuthorities.map((a) => a.keyId);
    expect(published).toContain(d.header.kid);
  });

  it('ok/the same audience set is served from the cache; another set gets a new token', async () => {
    const a = (await client.jwtSvid(['a', 'b'])).res!.svids[0]!.svid;
    const b = (await client.jwtSvid(['b', 'a', 'a'])).res!.svids[0]!.svid;
    const c = (await client.jwtSvid(['a'])).res!.svids[0]!.svid;
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('ok/ValidateJWTSVID accepts a token for its audience, with the claims; FetchJWTBundles holds the key', async () => {
    const token = (await client.jwtSvid(['spiffe://cluster.local/ns/shop/sa/api'])).res!.svids[0]!.svid;
    const v = await client.validateJwtSvid('spiffe://cluster.local/ns/shop/sa/api', token);
    expect(v.status.code).toBe(status.OK);
    expect(v.res!.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(claim(v.res!.claims.fields['sub'])).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    const bundles = client.jwtBundles();
    const m = await bundles.next();
    expect(Object.keys(m.bundles)).toEqual(['spiffe://cluster.local']);
    const jwks = JSON.parse(m.bundles['spiffe://cluster.local']!.toString()) as { keys: Record<string, string>[] };
    const kid = decodeJwtSvid(token).header.kid;
    const key = jwks.keys.find((k) => k['kid'] === kid)!;
    expect(key).toMatchObject({ use: 'jwt-svid', kty: 'EC', crv: 'P-256' });
    expect(createPublicKey({ key, format: 'jwk' }).asymmetricKeyType).toBe('ec');
    bundles.stream.cancel();
  });

  it('fail/ValidateJWTSVID: wrong audience, altered payload, foreign trust domain, garbage → INVALID_ARGUMENT', async () => {
    const token = (await client.jwtSvid(['x'])).res!.svids[0]!.svid;
    expect((await client.validateJwtSvid('y', token)).status.code).toBe(status.INVALID_ARGUMENT);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'spiffe://cluster.local/ns/kube-system/sa/admin' })).toString('base64url');
    const altered = await client.validateJwtSvid('x', `${h}.${forged}.${s}`);
    expect(altered.status.code).toBe(status.INVALID_ARGUMENT);
    expect(altered.status.details).toContain('signature');
    const foreign = Buffer.from(JSON.stringify({ ...claims, sub: 'spiffe://elsewhere.test/x' })).toString('base64url');
    expect((await client.validateJwtSvid('x', `${h}.${foreign}.${s}`)).status.details).toContain('no bundle for trust domain elsewhere.test');
    expect((await client.validateJwtSvid('x', 'not-a-jwt')).status.code).toBe(status.INVALID_ARGUMENT);
    expect((await client.validateJwtSvid('', token)).status.code).toBe(status.INVALID_ARGUMENT);
  });

  it('fail/FetchJWTSVID: no audience, 1000 audiences, another identity, no header → refused with the right status', async () => {
    expect((await client.jwtSvid([])).status.code).toBe(status.INVALID_ARGUMENT);
    const many = await client.jwtSvid(Array.from({ length: 1000 }, (_, i) => `aud-${i}`));
    expect(many.status.code).toBe(status.INVALID_ARGUMENT);
    expect(many.status.details).toContain('at most 16');
    const other = await client.jwtSvid(['x'], 'spiffe://cluster.local/ns/kube-system/sa/admin');
    expect(other.status.code).toBe(status.PERMISSION_DENIED);
    expect((await client.jwtSvid(['x'], 'spiffe://cluster.local/ns/shop/sa/cart')).status.code).toBe(status.OK);
    expect((await client.jwtSvid(['x'], '', false)).status.code).toBe(status.INVALID_ARGUMENT);
  });

  it('ok/every JWT-SVID is in the ledger (api jwt-svid, jti as serial, kid and audience in details); the token is not', async () => {
    const token = (await client.jwtSvid(['ledger-check'])).res!.svids[0]!.svid;
    const d = decodeJwtSvid(token);
    const store = await openLedgerStore({ dir: f.caDir, readOnly: true });
    try {
      let rows: Awaited<ReturnType<typeof store.query>> = [];
      await until(async () => (rows = await store.query({ serial: String(d.claims['jti']) })).length > 0, 'the ledger record');
      expect(rows[0]).toMatchObject({ type: 'issuance', outcome: 'issued', api: 'jwt-svid', spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' });
      expect(JSON.parse(rows[0]!.details!)).toEqual({ kid: d.header.kid, alg: 'ES256', audience: ['ledger-check'] });
      expect(JSON.stringify(rows)).not.toContain(token.split('.')[2]);
    } finally {
      await store.close();
    }
  });

  it('ok+fail/node mode: the pod token decides sub; no token UNAUTHENTICATED; an unknown token UNAUTHENTICATED', async () => {
    const token = await f.mint('billing', 'invoices');
    const c = new EnvoySdsClient(path.join(f.dir, 'n.sock'), token);
    clients.push(c);
    const r = await c.jwtSvid(['api']);
    expect(r.status.code).toBe(status.OK);
    expect(decodeJwtSvid(r.res!.svids[0]!.svid).spiffeId.toString()).toBe('spiffe://cluster.local/ns/billing/sa/invoices');
    // The node agent opens its bundle stream with the first pod token the CA accepted: until its JWT keys
    // arrive, validation answers UNAVAILABLE (retry), never a verdict on the token.
    let v = await c.validateJwtSvid('api', r.res!.svids[0]!.svid);
    expect([status.OK, status.UNAVAILABLE]).toContain(v.status.code);
    await until(async () => (v = await c.validateJwtSvid('api', r.res!.svids[0]!.svid)).status.code === status.OK, "the node agent's JWT keys");
    expect(v.res!.spiffeId).toBe('spiffe://cluster.local/ns/billing/sa/invoices');
    const anon = new EnvoySdsClient(path.join(f.dir, 'n.sock'));
    clients.push(anon);
    expect((await anon.jwtSvid(['api'])).status.code).toBe(status.UNAUTHENTICATED);
    const bad = new EnvoySdsClient(path.join(f.dir, 'n.sock'), `${token.slice(0, -4)}AAAA`);
    clients.push(bad);
    expect((await bad.jwtSvid(['api'])).status.code).toBe(status.UNAUTHENTICATED);
  });

  it("ok/FetchJWTBundles pushes when the bundle changes: root prepare publishes the new slot's key before it signs", async () => {
    const s = client.jwtBundles();
    const first = JSON.parse((await s.next()).bundles['spiffe://cluster.local']!.toString()) as { keys: { kid: string }[] };
    expect(first.keys).toHaveLength(1);
    const { ca } = await prepareRoot({ store: f.caDir });
    const second = JSON.parse((await s.next(30_000)).bundles['spiffe://cluster.local']!.toString()) as { keys: { kid: string }[] };
    expect(second.keys.map((k) => k.kid)).toEqual([first.keys[0]!.kid, ca.prepared!.jwtKey!.keyId]);
    s.stream.cancel();
    // Tokens are still signed with the old key: the new one is only published.
    const token = (await client.jwtSvid(['after-prepare'])).res!.svids[0]!.svid;
    expect(decodeJwtSvid(token).header.kid).toBe(first.keys[0]!.kid);
  });
});

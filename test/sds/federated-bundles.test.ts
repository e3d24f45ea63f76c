// Federated bundles reach workloads (docs/federation.md): CA A federates with CA B; A's agent serves B's
// roots in FetchX509SVID.federated_bundles and FetchX509Bundles, B's JWT keys in FetchJWTBundles, validates
// B's JWT-SVIDs, and offers B's roots over SDS as `spiffe://b.test` and inside `ALL`.
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, loadDevTokenIssuer, startCaServer, type CaServerConfig } from '../../ca/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import { mintServiceAccountToken, TrustDomain } from '../../workload-identity/index.js';
import { caClients, unary } from '../helpers/ca-client.js';
import { memoryLog } from '../helpers/ca-server.js';
import { EnvoySdsClient } from '../helpers/envoy-sds-client.js';
import { tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';
import { FAST_CHANNEL } from '../helpers/agent-fixture.js';

async function start(dir: string, config: CaServerConfig) {
  const { log } = memoryLog();
  return startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', rotation: { reloadInterval: 200 }, ...config }, devIssuer: true, log });
}

async function tokenFor(dir: string, namespace: string, serviceAccount: string) {
  const i = await loadDevTokenIssuer(dir);
  return mintServiceAccountToken(i.privateKey, i.kid, { issuer: i.issuer, audiences: ['castellan'], namespace, serviceAccount, ttlSeconds: 3600 });
}

describe('federated bundles delivered by the agent', () => {
  let t: ReturnType<typeof tempDir>;
  let a: Awaited<ReturnType<typeof start>>;
  let b: Awaited<ReturnType<typeof start>>;
  let agent: Agent;
  let client: EnvoySdsClient;
  const dirA = () => path.join(t.dir, 'a');
  const dirB = () => path.join(t.dir, 'b');

  beforeAll(async () => {
    t = tempDir();
    await initCa({ dir: dirA(), trustDomain: TrustDomain.of('a.test') });
    await initCa({ dir: dirB(), trustDomain: TrustDomain.of('b.test') });
    b = await start(dirB(), { federation: { bundleEndpoint: { listen: '127.0.0.1:0', profile: 'https_spiffe' } } });
    writeFileSync(path.join(t.dir, 'b.pem'), readFileSync(path.join(dirB(), 'bundle.pem')));
    a = await start(dirA(), {
      federation: {
        trustDomains: [
          {
            trustDomain: 'b.test',
            bundleEndpointUrl: `https://127.0.0.1:${b.bundleEndpoint!.port}/`,
            profile: 'https_spiffe',
            endpointSpiffeId: 'spiffe://b.test/castellan/ca',
            initialBundle: path.join(t.dir, 'b.pem'),
          },
        ],
      },
    });
    await a.federation!.refreshAll();
    const tokenFile = path.join(t.dir, 'token');
    writeFileSync(tokenFile, await tokenFor(dirA(), 'shop', 'cart'));
    agent = await startAgent({
      caAddress: `127.0.0.1:${a.server.grpcPort}`,
      caBundlePem: readFileSync(path.join(dirA(), 'bundle.pem'), 'utf8'),
      tokenFile,
      socketPath: path.join(t.dir, 'agent.sock'),
      log: memoryLog().log,
      caChannelOptions: FAST_CHANNEL,
    });
    client = new EnvoySdsClient(path.join(t.dir, 'agent.sock'));
    await until(() => (agent.trustedBundles()?.federated ?? []).some((f) => (f.jwtAuthorities ?? []).length > 0), 'the federated bundle at the agent');
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await agent?.close();
    await a?.server.shutdown(100);
    await b?.server.shutdown(100);
    t?.cleanup();
  });

  it('ok/FetchX509SVID carries federated_bundles; FetchX509Bundles holds both domains', async () => {
    const bRoot = (await loadCa(dirB())).bundle[0]!.der;
    const s = client.x509Svid();
    const m = await s.next();
    expect(Object.keys(m.federatedBundles)).toEqual(['spiffe://b.test']);
    expect(m.federatedBundles['spiffe://b.test']!.equals(bRoot)).toBe(true);
    s.stream.cancel();
    const bs = client.x509Bundles();
    const mb = await bs.next();
    expect(Object.keys(mb.bundles).sort()).toEqual(['spiffe://a.test', 'spiffe://b.test']);
    bs.stream.cancel();
  });

  it("ok/FetchJWTBundles holds B's JWT keys; a JWT-SVID B signed validates at A's agent; one for A's audience only", async () => {
    const s = client.jwtBundles();
    const m = await s.next();
    s.stream.cancel();
    const bKeys = JSON.parse(m.bundles['spiffe://b.test']!.toString()) as { keys: { kid: string }[] };
    expect(bKeys.keys.map((k) => k.kid)).toEqual(b.server.trustBundle.current().jwtAuthorities.map((k) => k.keyId));
    const bClient = caClients(`127.0.0.1:${b.server.grpcPort}`, readFileSync(path.join(dirB(), 'bundle.pem'), 'utf8'));
    try {
      const r = await unary<{ token: string }>(bClient.castellan, 'SignJwtSvid', { audience: ['spiffe://a.test/ns/shop/sa/cart'] }, await tokenFor(dirB(), 'billing', 'api'));
      expect(r.code).toBe(0);
      const v = await client.validateJwtSvid('spiffe://a.test/ns/shop/sa/cart', r.response!.token);
      expect(v.status.code).toBe(status.OK);
      expect(v.res!.spiffeId).toBe('spiffe://b.test/ns/billing/sa/api');
      expect((await client.validateJwtSvid('spiffe://a.test/ns/shop/sa/other', r.response!.token)).status.code).toBe(status.INVALID_ARGUMENT);
    } finally {
      bClient.close();
    }
  });

  it("ok/SDS: `spiffe://b.test` is a validation context with B's roots; ALL names both trust domains", async () => {
    const r = await client.fetch(['spiffe://b.test', 'ALL']);
    expect(r.status.code).toBe(status.OK);
    const byName = new Map(r.res!.resources.map((x) => [x.name, x]));
    const trusted = byName.get('spiffe://b.test')!.validationContext!.trustedCa!.inlineBytes.toString();
    expect(new X509Certificate(trusted).raw.equals((await loadCa(dirB())).bundle[0]!.der)).toBe(true);
    const all = byName.get('ALL')!.validationContext!.customValidatorConfig!.typedConfig.trustDomains.map((d) => d.name);
    expect(all.sort()).toEqual(['a.test', 'b.test']);
  });
});

// CreateCertificate's answer is written as protobuf bytes with the intermediates and the trust bundle
// encoded once (ca/server/chain-response.ts): the answer must follow a change of the bundle at once.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, loadDevTokenIssuer, type CaServer } from '../../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { cli } from '../../helpers/cli.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { tempDir } from '../../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
let dir: string;
let server: CaServer;
let client: ReturnType<typeof caClients>;

beforeAll(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  const ca = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
  const s = await testCaServer(dir, {}, true);
  server = s.server;
  client = caClients(s.address, ca.bundle.map((c) => c.pem).join(''));
});
afterAll(async () => {
  client?.close();
  await server?.shutdown(1000);
  t?.cleanup();
});

async function createCertificate(): Promise<string[]> {
  const dev = await loadDevTokenIssuer(dir);
  const token = await mintServiceAccountToken(dev.privateKey, dev.kid, {
    issuer: dev.issuer,
    audiences: ['castellan'],
    namespace: 'default',
    serviceAccount: 'web',
    ttlSeconds: 600,
  });
  const csr = (await testCsr({ uris: ['spiffe://cluster.local/ns/default/sa/web'] })).pem;
  const r = await unary<{ certChain: string[] }>(client.istio, 'CreateCertificate', { csr, validityDuration: 3600 }, token);
  expect(r.code, r.details).toBe(0);
  return r.response!.certChain;
}

describe('CreateCertificate answers written once per bundle', () => {
  it('ok/leaf, intermediate, then the current trust bundle, also right after the bundle changed', async () => {
    const before = await loadCa(dir);
    const first = await createCertificate();
    expect(first).toHaveLength(3);
    expect(first[1]).toBe(before.active.issuer.pem);
    expect(first[2]).toBe(before.bundle.map((c) => c.pem).join(''));
    const second = await createCertificate();
    expect(second[0]).not.toBe(first[0]);
    expect(second.slice(1)).toEqual(first.slice(1));

    // A new root in the bundle (root prepare): the next answer carries it.
    const prepared = await cli(['root', 'prepare', '--dir', dir]);
    expect(prepared.code, prepared.err).toBe(0);
    const after = await loadCa(dir);
    server.applyDirectory(after);
    expect(after.bundle).toHaveLength(2);
    const third = await createCertificate();
    expect(third[2]).toBe(after.bundle.map((c) => c.pem).join(''));
    expect(third[2]).not.toBe(first[2]);
    expect(third[1]).toBe(before.active.issuer.pem); // issuance stays with the active intermediate
  });
});

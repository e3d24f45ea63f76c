import { createHash, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, initCa, loadCa, loadDevTokenIssuer, openLedgerStore, validateCaServerConfig, type LedgerRecord, type LedgerStore } from '../../../ca/index.js';
import { codeOf } from '../../helpers/error-code.js';
import { createSvidRequest, mintServiceAccountToken, SpiffeId, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { cli } from '../../helpers/cli.js';
import { testCsr } from '../../helpers/csr.js';
import { rawLedgerSql } from '../../helpers/ledger-sql.js';
import { tempDir } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';

const OK = 0;
const INVALID_ARGUMENT = 3;
const PERMISSION_DENIED = 7;
const RESOURCE_EXHAUSTED = 8;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const sha256 = (x: string | Uint8Array) => createHash('sha256').update(x).digest('hex');

let t: ReturnType<typeof tempDir>;
let caDir: string;
let bundlePem: string;
let server: Awaited<ReturnType<typeof testCaServer>>;
let client: ReturnType<typeof caClients>;
let dev: Awaited<ReturnType<typeof loadDevTokenIssuer>>;
let store: LedgerStore;

const token = (ns: string, sa: string, pod?: { name: string; uid: string }) =>
  mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['castellan'], namespace: ns, serviceAccount: sa, ttlSeconds: 600, ...(pod ? { pod } : {}) });

beforeAll(async () => {
  t = tempDir();
  caDir = path.join(t.dir, 'ca');
  await initCa({ dir: caDir, trustDomain: TrustDomain.of('cluster.local') });
  bundlePem = (await loadCa(caDir)).bundle.map((c) => c.pem).join('');
  dev = await loadDevTokenIssuer(caDir);
  server = await testCaServer(
    caDir,
    // Signing workers (docs/architecture.md §4), whatever this machine's cores: the records below are
    // the same when the CSR is checked and the leaf signed in a worker.
    { policy: { denyNamespaces: ['forbidden'] }, limits: { perIdentity: { ratePerSecond: 0.001, burst: 3 } }, ledger: { checkpointEvery: 5 }, signingWorkers: 2 },
    true,
  );
  client = caClients(server.address, bundlePem);
  store = await openLedgerStore({ dir: caDir, readOnly: true });
  // Until the workers have loaded, the CA signs on its event loop: wait, so the tests below use them.
  const metrics = `http://127.0.0.1:${server.server.httpPort}/metrics`;
  await until(async () => /^castellan_signing_workers 2$/m.test(await (await fetch(metrics)).text()), 'two signing workers ready', 30_000);
});

afterAll(async () => {
  client?.close();
  await store?.close();
  await server?.server.shutdown(1000);
  t?.cleanup();
});

async function refusal(reason: string, newerThan: number): Promise<LedgerRecord> {
  const rs = (await store.query({ outcome: 'refused', limit: 1000 })).filter((r) => r.reason === reason && r.seq > newerThan);
  expect(rs, `a refusal record with reason ${reason}`).toHaveLength(1);
  return rs[0]!;
}
const lastSeq = async () => (await store.query({ limit: 1 }))[0]?.seq ?? 0;

describe('the CA server records every issuance', () => {
  it("ok/the CA's own serving certificate is recorded (lifecycle, with its serial) before it is used", async () => {
    const first = (await store.scan(0, 1))[0]!;
    expect(first).toMatchObject({ seq: 1, type: 'lifecycle', event: 'serving-certificate-issued', spiffeId: 'spiffe://cluster.local/castellan/ca' });
    expect(first.serial).toMatch(/^[0-9a-f]+$/);
    expect(JSON.parse(first.details!)).toMatchObject({ dnsNames: expect.arrayContaining(['localhost']) });
  });

  it('ok/Istio CreateCertificate: identity, pod, token hash, peer, CSR key hash, serial, validity, issuer key id', async () => {
    const csr = await testCsr({ uris: [id('shop', 'cart')] });
    const tok = await token('shop', 'cart', { name: 'cart-7d9f', uid: '6f1c3a52-1111-4222-8333-944445555666' });
    const r = await unary<{ certChain: string[] }>(client.istio, 'CreateCertificate', { csr: csr.pem, validityDuration: 3600 }, tok);
    expect(r.code).toBe(OK);
    const leaf = new X509Certificate(r.response!.certChain[0]!);
    const recs = await store.bySerial(leaf.serialNumber.toLowerCase());
    expect(recs).toHaveLength(1);
    const spki = new X509Certificate(r.response!.certChain[0]!).publicKey.export({ type: 'spki', format: 'der' });
    expect(recs[0]).toMatchObject({
      type: 'issuance',
      outcome: 'issued',
      api: 'istio',
      spiffeId: id('shop', 'cart'),
      namespace: 'shop',
      serviceAccount: 'cart',
      podName: 'cart-7d9f',
      podUid: '6f1c3a52-1111-4222-8333-944445555666',
      tokenSha256: sha256(tok),
      authenticator: 'jwks',
      csrKeySha256: sha256(spki),
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      issuerKeyId: (await loadCa(caDir)).active.issuer.ski.toString('hex'),
    });
    expect(recs[0]!.peer).toMatch(/^(ipv4:)?127\.0\.0\.1:\d+$/);
    expect(JSON.stringify(recs[0])).not.toContain(tok);
  });

  it('ok/Castellan Sign and renewal by client certificate are recorded with their API and authenticator', async () => {
    const spiffe = SpiffeId.parse(id('default', 'renewer'));
    const key = generateKey('ec-p256').privateKey;
    const csr = await createSvidRequest(key, spiffe);
    const first = await unary<{ serial: string; leaf: string; intermediates: string[] }>(client.castellan, 'Sign', { csr, ttlSeconds: 600 }, await token('default', 'renewer'));
    expect(first.details).toBeUndefined();
    expect(first.code).toBe(OK);
    expect(await store.bySerial(first.response!.serial)).toMatchObject([{ api: 'castellan', outcome: 'issued', authenticator: 'jwks', spiffeId: spiffe.toString() }]);
    const mtls = caClients(server.address, bundlePem, {
      key: key.export({ format: 'pem', type: 'pkcs8' }) as string,
      cert: first.response!.leaf + first.response!.intermediates.join(''),
    });
    try {
      const again = await unary<{ serial: string }>(mtls.castellan, 'Sign', { csr, ttlSeconds: 600 });
      expect(again.code).toBe(OK);
      const [rec] = await store.bySerial(again.response!.serial);
      expect(rec).toMatchObject({ api: 'castellan', outcome: 'issued', authenticator: 'client-certificate', spiffeId: spiffe.toString() });
      expect(rec!.tokenSha256).toBeUndefined();
    } finally {
      mtls.close();
    }
  });
});

describe('the CA server records every refusal with its reason', () => {
  it('fail/no token: ERR_TOKEN_MISSING, no identity', async () => {
    const before = await lastSeq();
    const r = await unary(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem });
    expect(r.code).toBe(UNAUTHENTICATED);
    const rec = await refusal('ERR_TOKEN_MISSING', before);
    expect(rec).toMatchObject({ type: 'refusal', outcome: 'refused', api: 'istio' });
    expect(rec.spiffeId).toBeUndefined();
  });

  it('fail/a bad token: its SHA-256 is recorded, never the token', async () => {
    const before = await lastSeq();
    const r = await unary(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, 'not-a-jwt');
    expect(r.code).toBe(UNAUTHENTICATED);
    expect(await refusal('ERR_TOKEN_MALFORMED', before)).toMatchObject({ tokenSha256: sha256('not-a-jwt') });
  });

  it('fail/policy: ERR_POLICY_DENIED with the caller identity', async () => {
    const before = await lastSeq();
    const r = await unary(client.castellan, 'Sign', { csr: (await testCsr()).der, ttlSeconds: 600 }, await token('forbidden', 'x'));
    expect(r.code).toBe(PERMISSION_DENIED);
    expect(await refusal('ERR_POLICY_DENIED', before)).toMatchObject({ api: 'castellan', spiffeId: id('forbidden', 'x'), namespace: 'forbidden', serviceAccount: 'x' });
  });

  it('fail/a malformed CSR and a SAN mismatch (with the CSR key hash)', async () => {
    let before = await lastSeq();
    expect((await unary(client.istio, 'CreateCertificate', { csr: 'garbage' }, await token('default', 'bad-csr'))).code).toBe(INVALID_ARGUMENT);
    expect(await refusal('ERR_CSR_MALFORMED', before)).toMatchObject({ spiffeId: id('default', 'bad-csr') });
    before = await lastSeq();
    const other = await testCsr({ uris: [id('default', 'someone-else')] });
    expect((await unary(client.istio, 'CreateCertificate', { csr: other.pem }, await token('default', 'sneaky'))).code).toBe(PERMISSION_DENIED);
    const spki = Buffer.from(await globalThis.crypto.subtle.exportKey('spki', other.keys.publicKey));
    expect(await refusal('ERR_SAN_MISMATCH', before)).toMatchObject({ spiffeId: id('default', 'sneaky'), csrKeySha256: sha256(spki) });
  });

  it('fail/rate limit: ERR_RATE_LIMITED', async () => {
    const before = await lastSeq();
    const tok = await token('default', 'hammer');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await unary(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok)).code);
    expect(codes).toEqual([OK, OK, OK, RESOURCE_EXHAUSTED]);
    expect(await refusal('ERR_RATE_LIMITED', before)).toMatchObject({ spiffeId: id('default', 'hammer') });
  });

  it('ok/checkpoints are interleaved and `castellan audit verify` passes on the live ledger', async () => {
    const cps = (await store.scan(0, 10_000)).filter((r) => r.type === 'checkpoint');
    expect(cps.length).toBeGreaterThan(0);
    const v = await cli(['audit', 'verify', '--dir', caDir]);
    expect(v.err).toBe('');
    expect(v.code).toBe(0);
  });
});

describe('ledger failures and shutdown', () => {
  it('fail/when the ledger cannot be written the request fails UNAVAILABLE and no certificate leaves the CA', async () => {
    const o = tempDir();
    const dir = path.join(o.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const d = await loadDevTokenIssuer(dir);
    const s = await testCaServer(dir, {}, true);
    const c = caClients(s.address, (await loadCa(dir)).bundle.map((x) => x.pem).join(''));
    try {
      const tok = await mintServiceAccountToken(d.privateKey, d.kid, { issuer: d.issuer, audiences: ['castellan'], namespace: 'default', serviceAccount: 'web', ttlSeconds: 600 });
      expect((await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok)).code).toBe(OK);
      await rawLedgerSql({ file: path.join(dir, 'ledger.db') }).run('DROP TABLE ledger');
      const r = await unary<{ certChain: string[] }>(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok);
      expect(r.code).toBe(UNAVAILABLE);
      expect(r.response).toBeUndefined();
      expect(r.details).toContain('ledger');
      expect(s.lines.some((l) => l.includes('ledger write failed'))).toBe(true);
    } finally {
      c.close();
      await s.server.shutdown(1000);
      o.cleanup();
    }
  });

  it('fail/a ledger truncated under the running CA (checkpoints included): requests fail UNAVAILABLE, verify fails, the CA refuses to start', async () => {
    const o = tempDir();
    const dir = path.join(o.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const d = await loadDevTokenIssuer(dir);
    const s = await testCaServer(dir, { ledger: { checkpointEvery: 2 } }, true);
    const c = caClients(s.address, (await loadCa(dir)).bundle.map((x) => x.pem).join(''));
    try {
      const tok = await mintServiceAccountToken(d.privateKey, d.kid, { issuer: d.issuer, audiences: ['castellan'], namespace: 'default', serviceAccount: 'web', ttlSeconds: 600 });
      for (let i = 0; i < 4; i++) expect((await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok)).code).toBe(OK);
      await rawLedgerSql({ file: path.join(dir, 'ledger.db') }).run('DELETE FROM {T} WHERE seq > 1');
      for (let i = 0; i < 2; i++) {
        const r = await unary<{ certChain: string[] }>(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok);
        expect(r.code).toBe(UNAVAILABLE);
        expect(r.response).toBeUndefined();
      }
      expect(s.lines.some((l) => l.includes('LEDGER BROKEN'))).toBe(true);
    } finally {
      c.close();
      await s.server.shutdown(1000);
    }
    try {
      const count = await rawLedgerSql({ file: path.join(dir, 'ledger.db') }).rows('SELECT seq FROM {T}');
      expect(count).toHaveLength(1); // nothing was chained onto the shorter tail (no final checkpoint either)
      expect((await cli(['audit', 'verify', '--dir', dir])).code).toBe(1);
      const start = await testCaServer(dir, {}, true).then(
        async (x) => (await x.server.shutdown(1000), undefined),
        (err: unknown) => err as { code?: string; message: string },
      );
      expect(start?.code).toBe('ERR_LEDGER_BROKEN');
      expect(start?.message).toContain('castellan audit verify');
    } finally {
      o.cleanup();
    }
  });

  it('fail/refusals by the per-address limit before authentication are summarised, not recorded one by one', async () => {
    const o = tempDir();
    const dir = path.join(o.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const s = await testCaServer(dir, { limits: { perPeer: { ratePerSecond: 0.001, burst: 2 } } }, true);
    const c = caClients(s.address, (await loadCa(dir)).bundle.map((x) => x.pem).join(''));
    try {
      const codes: number[] = [];
      for (let i = 0; i < 12; i++) codes.push((await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem })).code);
      expect(codes.filter((x) => x === RESOURCE_EXHAUSTED)).toHaveLength(10);
    } finally {
      c.close();
      await s.server.shutdown(1000);
    }
    const st = await openLedgerStore({ dir, readOnly: true });
    try {
      const refusals = (await st.scan(0, 1000)).filter((r) => r.type === 'refusal');
      expect(refusals.map((r) => r.reason)).toEqual(['ERR_TOKEN_MISSING', 'ERR_TOKEN_MISSING', 'ERR_RATE_LIMITED', 'ERR_RATE_LIMITED']);
      const summary = refusals[3]!;
      expect(summary).toMatchObject({ event: 'refusal-summary', peer: '127.0.0.1' });
      expect(JSON.parse(summary.details!)).toMatchObject({ count: 9 });
    } finally {
      await st.close();
      o.cleanup();
    }
  });

  it('ok/graceful shutdown flushes and writes a final checkpoint and the head witness', async () => {
    const o = tempDir();
    const dir = path.join(o.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const d = await loadDevTokenIssuer(dir);
    const s = await testCaServer(dir, {}, true);
    const c = caClients(s.address, (await loadCa(dir)).bundle.map((x) => x.pem).join(''));
    try {
      const tok = await mintServiceAccountToken(d.privateKey, d.kid, { issuer: d.issuer, audiences: ['castellan'], namespace: 'default', serviceAccount: 'web', ttlSeconds: 600 });
      const results = await Promise.all(Array.from({ length: 20 }, async () => (await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok)).code));
      expect(results.every((x) => x === OK)).toBe(true);
    } finally {
      c.close();
      await s.server.shutdown(1000);
    }
    try {
      const v = await cli(['audit', 'verify', '--dir', dir, '--output', 'json']);
      expect(v.code).toBe(0);
      const report = JSON.parse(v.out) as { records: number; lastSeq: number; lastCheckpointSeq: number; headSeq: number; unprotected: number };
      // 1 serving certificate + 20 issuances + the final checkpoint.
      expect(report).toMatchObject({ records: 22, lastSeq: 22, lastCheckpointSeq: 22, headSeq: 22, unprotected: 0 });
    } finally {
      o.cleanup();
    }
  });
});

describe('ledger configuration', () => {
  it('ok/durations and defaults', () => {
    expect(
      validateCaServerConfig({ ledger: { url: 'postgres://u:p@db:5432/castellan', checkpointEvery: 500, checkpointInterval: '30s', sqliteSynchronous: 'normal' } }).ledger,
    ).toEqual({
      url: 'postgres://u:p@db:5432/castellan',
      checkpointEvery: 500,
      checkpointInterval: 30_000,
      sqliteSynchronous: 'normal',
    });
  });

  it('fail/every problem is listed by path', () => {
    const bad = { ledger: { url: 'mysql://db/x', checkpointEvery: 0, checkpointInterval: '5x', sqliteSynchronous: 'off', extra: 1 } };
    expect(codeOf(() => validateCaServerConfig(bad))).toBe('ERR_CONFIG');
    const message = (() => {
      try {
        validateCaServerConfig(bad);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    for (const p of ['ledger.url', 'ledger.checkpointEvery', 'ledger.checkpointInterval', 'ledger.sqliteSynchronous']) expect(message).toContain(p);
  });
});

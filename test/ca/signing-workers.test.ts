// The CA's signing workers (ca/signing-workers.ts, docs/architecture.md §4): worker threads check the CSR
// and sign the leaf with the authority of the Issuer that hands them the job. They must accept and
// refuse exactly what the CA's own thread does, in the same order, with the issuer's clock, under the
// issuer's authority (also across a rotation), and never leave a request hanging.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoSigningWorkers, Issuer, parseCsr, SigningWorkers } from '../../ca/index.js';
import { SpiffeId, validateX509SvidLeaf } from '../../workload-identity/index.js';
import { tamperSignature, testCsr } from '../helpers/csr.js';
import { asyncCodeOf, codeOf } from '../helpers/error-code.js';
import { hsmLikeSigner } from '../helpers/hsm-like-signer.js';
import { opensslVerify, testCa } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';

const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');
const HOUR = 3_600_000;

describe('signing workers', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  let workers: SigningWorkers;
  let issuer: Issuer;
  beforeAll(async () => {
    ca = await testCa();
    workers = new SigningWorkers({ size: 2 });
    workers.start();
    issuer = new Issuer({ authority: ca.ca.active, workers });
    // Until they have loaded, requests are signed on this thread: the tests below are about the workers.
    await until(() => workers.running === 2, 'both signing workers ready', 30_000);
  });
  afterAll(async () => {
    await workers.close();
    ca.cleanup();
  });

  it("ok/a worker signs an X509-SVID that openssl verifies -x509_strict, under the issuer's intermediate", async () => {
    const { pem } = await testCsr({ uris: [ID.toString()] });
    const before = workers.answered;
    const cert = await issuer.issueCsr(ID, pem, { ttlMs: HOUR });
    expect(workers.answered).toBe(before + 1);
    const leaf = new x509.X509Certificate(cert.leafPem);
    expect(validateX509SvidLeaf(leaf).toString()).toBe(ID.toString());
    expect(Buffer.from(leaf.rawData).equals(cert.leafDer)).toBe(true);
    expect(leaf.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(cert.serialHex.replace(/^0+/, ''));
    expect(cert.chainPem).toEqual([ca.ca.active.issuer.pem, ...ca.ca.active.parents.map((p) => p.pem)]);
    const v = opensslVerify(ca.dir, cert.leafPem, cert.chainPem);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(Buffer.from(cert.request.spki).equals(Buffer.from(parseCsr(pem).spki))).toBe(true);
    expect(cert.request.publicKey.asymmetricKeyType).toBe('ec');
    expect(workers.running).toBe(2);
  });

  it('ok/workers accept and refuse what the CA thread does, refusal codes and order included', async () => {
    const valid = await testCsr({ uris: [ID.toString()] });
    const caTrue = await testCsr({ ca: true });
    const certSign = await testCsr({ keyUsage: x509.KeyUsageFlags.keyCertSign });
    const inputs: (string | Buffer)[] = [
      valid.pem,
      valid.der,
      (await testCsr({ key: 'rsa-2048', uris: [ID.toString()] })).der,
      tamperSignature(valid.der),
      caTrue.der,
      tamperSignature(caTrue.der),
      certSign.der,
      (await testCsr({ key: 'rsa-1024' })).der,
      (await testCsr({ key: 'ec-p521' })).der,
      (await testCsr({ uris: ['spiffe://cluster.local/ns/default/sa/other'] })).der,
      (await testCsr({ dns: ['web.example.com'] })).der,
      'not a csr',
      Buffer.from('3000', 'hex'),
      Buffer.alloc(70_000, 0x30),
    ];
    for (let i = 0; i < 150; i++) {
      const m = Buffer.from(valid.der);
      m[(i * 7919) % m.length] ^= 1 << (i % 8);
      inputs.push(m);
    }
    const local = new Issuer({ authority: ca.ca.active });
    const answered = workers.answered;
    const codes = new Set<string | undefined>();
    for (const input of inputs) {
      const here = codeOf(() => local.issue(ID, parseCsr(input), { ttlMs: HOUR }));
      const there = await asyncCodeOf(issuer.issueCsr(ID, input, { ttlMs: HOUR }));
      expect(there, `input ${Buffer.from(input).toString('hex').slice(0, 40)}`).toBe(here);
      codes.add(here);
    }
    for (const c of [undefined, 'ERR_CSR_SIGNATURE', 'ERR_CSR_CA_REQUESTED', 'ERR_CSR_KEY_USAGE', 'ERR_CSR_KEY_WEAK', 'ERR_CSR_MALFORMED', 'ERR_SAN_MISMATCH']) {
      expect(codes).toContain(c);
    }
    // Every one of them was answered by a worker.
    expect(workers.answered - answered).toBe(inputs.length);
    // The issuer's own checks, made in the worker with the issuer's policy.
    const ok = (await testCsr({ uris: [ID.toString()] })).pem;
    expect(await asyncCodeOf(issuer.issueCsr(ID, ok, { ttlMs: 365 * 86_400_000 }))).toBe('ERR_TTL_TOO_LONG');
    expect(await asyncCodeOf(issuer.issueCsr(ID, ok, { ttlMs: -5 }))).toBe('ERR_TTL_INVALID');
    expect(await asyncCodeOf(issuer.issueCsr(SpiffeId.parse('spiffe://other.org/ns/a/sa/b'), ok))).toBe('ERR_SAN_MISMATCH');
  });

  it('ok/a refusal after the CSR parsed names its key (onParsed); one that does not parse names none', async () => {
    const other = await testCsr({ uris: ['spiffe://cluster.local/ns/default/sa/other'] });
    let spki: Uint8Array | undefined;
    expect(await asyncCodeOf(issuer.issueCsr(ID, other.pem, { onParsed: (s) => (spki = s) }))).toBe('ERR_SAN_MISMATCH');
    expect(spki && Buffer.from(spki).equals(Buffer.from(parseCsr(other.pem).spki))).toBe(true);
    spki = undefined;
    expect(await asyncCodeOf(issuer.issueCsr(ID, tamperSignature(other.der), { onParsed: (s) => (spki = s) }))).toBe('ERR_CSR_SIGNATURE');
    expect(spki).toBeUndefined();
  });

  it("ok/the issuer's clock, not the worker's, sets the validity; the issuer's notAfter caps it", async () => {
    const { pem } = await testCsr({ uris: [ID.toString()] });
    const issuerNotAfter = ca.ca.active.issuer.notAfter.getTime();
    const at = new Date(issuerNotAfter - 2 * HOUR);
    const clocked = new Issuer({ authority: ca.ca.active, workers, now: () => at });
    const short = await clocked.issueCsr(ID, pem, { ttlMs: HOUR });
    expect(short.notAfter.getTime()).toBe(at.getTime() + HOUR);
    expect(short.notBefore.getTime()).toBeLessThan(at.getTime());
    expect(short.cappedByIssuer).toBe(false);
    const capped = await clocked.issueCsr(ID, pem, { ttlMs: 5 * HOUR });
    expect(capped.notAfter.getTime()).toBe(Math.floor(issuerNotAfter / 1000) * 1000);
    expect(capped.cappedByIssuer).toBe(true);
    const late = new Issuer({ authority: ca.ca.active, workers, now: () => new Date(issuerNotAfter + 1000) });
    expect(await asyncCodeOf(late.issueCsr(ID, pem))).toBe('ERR_ISSUER_EXPIRED');
  });

  it('ok/after a rotation each request is signed by the authority of the issuer that took it, interleaved', async () => {
    const next = await testCa({ trustDomain: 'cluster.local' });
    try {
      const rotated = new Issuer({ authority: next.ca.active, workers });
      const csrs = await Promise.all(Array.from({ length: 12 }, () => testCsr({ uris: [ID.toString()] })));
      // Requests of the old and the new issuer in flight together, on both workers.
      const certs = await Promise.all(csrs.map((c, i) => (i % 2 === 0 ? issuer : rotated).issueCsr(ID, c.pem)));
      certs.forEach((cert, i) => {
        const expected = i % 2 === 0 ? ca : next;
        expect(cert.chainPem[0]).toBe(expected.ca.active.issuer.pem);
        expect(opensslVerify(expected.dir, cert.leafPem, cert.chainPem).status).toBe(0);
      });
    } finally {
      next.cleanup();
    }
  });

  it('ok/a key held elsewhere (an HSM) signs on the calling thread', async () => {
    const hsmLike = hsmLikeSigner(ca.ca.active.signer);
    const hsmIssuer = new Issuer({ authority: { ...ca.ca.active, signer: hsmLike.signer }, workers });
    const cert = await hsmIssuer.issueCsr(ID, (await testCsr({ uris: [ID.toString()] })).pem);
    expect(hsmLike.signs()).toBe(1);
    expect(opensslVerify(ca.dir, cert.leafPem, cert.chainPem).status).toBe(0);
  });

  it('ok/requests in flight when the workers stop are signed on the calling thread, as are later ones; none hangs', async () => {
    const own = await testCa();
    const pool = new SigningWorkers({ size: 1 });
    pool.start();
    try {
      const i = new Issuer({ authority: own.ca.active, workers: pool });
      await until(() => pool.running === 1, 'the signing worker ready', 30_000);
      const csrs = await Promise.all(Array.from({ length: 40 }, () => testCsr({ uris: [ID.toString()] })));
      const inFlight = csrs.map((c) => i.issueCsr(ID, c.pem));
      await pool.close();
      const certs = await Promise.all(inFlight);
      expect(pool.answered).toBeLessThan(40); // some were still in the worker when it stopped
      for (const c of certs) expect(opensslVerify(own.dir, c.leafPem, c.chainPem).status).toBe(0);
      expect(pool.available).toBe(false);
      const after = await i.issueCsr(ID, (await testCsr({ uris: [ID.toString()] })).pem);
      expect(opensslVerify(own.dir, after.leafPem, after.chainPem).status).toBe(0);
    } finally {
      await pool.close();
      own.cleanup();
    }
  });

  it('fail/a pool of no workers is refused', () => {
    expect(() => new SigningWorkers({ size: 0 })).toThrow(/size 0 must be an integer >= 1/);
  });
});

describe('signingWorkers: auto', () => {
  it('ok/none on two cores or fewer, one per core but one above, at most four', () => {
    expect([1, 2, 3, 4, 5, 8, 64].map((n) => autoSigningWorkers(n))).toEqual([0, 0, 2, 3, 4, 4, 4]);
  });
});

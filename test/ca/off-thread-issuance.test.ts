// The CA server's issuance path verifies CSRs and signs leaves on the libuv thread pool (parseCsrAsync,
// Issuer.issueAsync, Signer.signAsync: docs/architecture.md §4). It must accept and refuse exactly what
// the synchronous path does, in the same order, and fall back to `sign` for signers without signAsync
// (PKCS#11).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Issuer, parseCsr, parseCsrAsync } from '../../ca/index.js';
import { SpiffeId, validateX509SvidLeaf } from '../../workload-identity/index.js';
import { tamperSignature, testCsr } from '../helpers/csr.js';
import { asyncCodeOf, codeOf } from '../helpers/error-code.js';
import { hsmLikeSigner } from '../helpers/hsm-like-signer.js';
import { opensslVerify, testCa } from '../helpers/test-ca.js';

const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');

describe('issuance off the event loop', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa();
  });
  afterAll(() => ca.cleanup());

  it('ok/parseCsrAsync and parseCsr agree on accepted and refused requests, refusal codes included', async () => {
    const valid = await testCsr({ uris: [ID.toString()] });
    const rsa = await testCsr({ key: 'rsa-2048', uris: [ID.toString()] });
    const caTrue = await testCsr({ ca: true });
    const certSign = await testCsr({ keyUsage: x509.KeyUsageFlags.keyCertSign });
    const inputs: (string | Buffer)[] = [
      valid.pem,
      valid.der,
      rsa.der,
      tamperSignature(valid.der),
      caTrue.der,
      // A bad signature is reported before what the request asks for: same order on both paths.
      tamperSignature(caTrue.der),
      certSign.der,
      tamperSignature(certSign.der),
      (await testCsr({ key: 'rsa-1024' })).der,
      (await testCsr({ key: 'ec-p521' })).der,
      'not a csr',
      Buffer.from('3000', 'hex'),
    ];
    // Single-byte mutations of a valid request: whatever each one is, both paths say the same.
    for (let i = 0; i < 200; i++) {
      const m = Buffer.from(valid.der);
      m[(i * 7919) % m.length] ^= 1 << (i % 8);
      inputs.push(m);
    }
    const codes = new Set<string | undefined>();
    for (const input of inputs) {
      const sync = codeOf(() => parseCsr(input));
      const async = await asyncCodeOf(parseCsrAsync(input));
      expect(async, `input ${Buffer.from(input).toString('hex').slice(0, 40)}`).toBe(sync);
      codes.add(sync);
      if (sync === undefined) {
        const a = parseCsr(input);
        const b = await parseCsrAsync(input);
        expect(Buffer.from(b.spki).equals(Buffer.from(a.spki))).toBe(true);
        expect(b.uriSans).toEqual(a.uriSans);
      }
    }
    // The table covers acceptance and the refusals whose order matters.
    for (const c of [undefined, 'ERR_CSR_SIGNATURE', 'ERR_CSR_CA_REQUESTED', 'ERR_CSR_KEY_USAGE', 'ERR_CSR_KEY_WEAK', 'ERR_CSR_MALFORMED']) expect(codes).toContain(c);
    expect(await asyncCodeOf(parseCsrAsync(tamperSignature(caTrue.der)))).toBe('ERR_CSR_SIGNATURE');
  });

  it('ok/issueAsync signs on the pool an X509-SVID that openssl verifies -x509_strict', async () => {
    const { pem } = await testCsr({ uris: [ID.toString()] });
    const cert = await ca.issuer.issueAsync(ID, await parseCsrAsync(pem), { ttlMs: 3_600_000 });
    expect(validateX509SvidLeaf(new x509.X509Certificate(cert.leafPem)).toString()).toBe(ID.toString());
    expect(opensslVerify(ca.dir, cert.leafPem, cert.chainPem).status).toBe(0);
  });

  it('ok/a signer without signAsync (an HSM) signs on the calling thread, with the same result', async () => {
    const hsmLike = hsmLikeSigner(ca.ca.active.signer);
    const issuer = new Issuer({ authority: { ...ca.ca.active, signer: hsmLike.signer } });
    const { pem } = await testCsr({ uris: [ID.toString()] });
    const cert = await issuer.issueAsync(ID, await parseCsrAsync(pem));
    expect(hsmLike.signs()).toBe(1);
    expect(opensslVerify(ca.dir, cert.leafPem, cert.chainPem).status).toBe(0);
  });

  it('fail/issueAsync refuses what issue refuses, before signing', async () => {
    const other = await testCsr({ uris: ['spiffe://cluster.local/ns/default/sa/other'] });
    const req = await parseCsrAsync(other.pem);
    expect(await asyncCodeOf(ca.issuer.issueAsync(ID, req))).toBe(codeOf(() => ca.issuer.issue(ID, req)));
    expect(await asyncCodeOf(ca.issuer.issueAsync(ID, req))).toBe('ERR_SAN_MISMATCH');
    const ok = await parseCsrAsync((await testCsr({ uris: [ID.toString()] })).pem);
    expect(await asyncCodeOf(ca.issuer.issueAsync(ID, ok, { ttlMs: 365 * 86_400_000 }))).toBe('ERR_TTL_TOO_LONG');
    // A hand-built request never went through the signature check.
    await expect(ca.issuer.issueAsync(ID, { ...ok })).rejects.toThrow(TypeError);
  });
});

import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AsnParser } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsr } from '../../ca/index.js';
import { isCastellanError, SpiffeId } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { codeOf } from '../helpers/error-code.js';
import { testCa } from '../helpers/test-ca.js';

// The CSR reader (ca/csr.ts): what it reads agrees with a full ASN.1 library, and what it refuses.
const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');

describe('csr reader agrees with @peculiar/asn1-csr', () => {
  for (const key of ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const) {
    it(`ok/${key}: same SubjectPublicKeyInfo and SANs`, async () => {
      const { der } = await testCsr({ key, uris: [ID.toString()], dns: ['a.b'] });
      const ours = parseCsr(der);
      const theirs = AsnParser.parse(der, CertificationRequest);
      const theirSpki = new x509.Pkcs10CertificateRequest(der).publicKey.rawData;
      expect(Buffer.from(ours.spki).equals(Buffer.from(theirSpki))).toBe(true);
      expect(ours.uriSans).toEqual([ID.toString()]);
      expect(ours.dnsSans).toEqual(['a.b']);
      expect(theirs.certificationRequestInfo.version).toBe(0);
      expect(ours.keyDescription).toBe(key.startsWith('ec') ? `EC P-${key.slice(4)}` : `RSA-${key.slice(4)}`);
    });
  }
  it('fail/every truncation of a valid CSR is refused with ERR_CSR_TRUNCATED (never a crash)', async () => {
    const { der } = await testCsr({ uris: [ID.toString()] });
    expect(codeOf(() => parseCsr(der.subarray(0, 0)))).toBe('ERR_CSR_MALFORMED'); // empty: nothing to truncate
    for (let n = 1; n < der.length; n++) {
      const code = codeOf(() => parseCsr(der.subarray(0, n)));
      expect(code, `truncated to ${n}`).toBe('ERR_CSR_TRUNCATED');
    }
  });
  it('fail/every single-byte corruption is refused with a CSR code or still verifies (never a crash)', async () => {
    const { der } = await testCsr({ uris: [ID.toString()] });
    for (let i = 0; i < der.length; i++) {
      const bad = Buffer.from(der);
      bad[i] ^= 0xff;
      let code: string;
      try {
        parseCsr(bad);
        code = 'accepted';
      } catch (err) {
        if (!isCastellanError(err)) throw new Error(`byte ${i}: non-Castellan error ${String(err)}`);
        code = err.code;
      }
      // A flipped byte inside the signed part must never be accepted.
      expect(code, `byte ${i}`).not.toBe('accepted');
    }
  });
});

describe('hand-built CSRs: the SubjectPublicKeyInfo must be canonical (it is copied into the certificate)', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa();
  });
  afterAll(() => ca.cleanup());

  // A correctly signed CSR around any SubjectPublicKeyInfo, so only the SPKI is wrong.
  async function csrWith(makeSpki: (alg: Buffer, bits: Buffer, spki: Buffer) => Buffer): Promise<Buffer> {
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const { DerReader, tlv } = await import('../../ca/der.js');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const r = new DerReader(spki);
    const [alg, bits] = r.children(r.read(0)).map((c) => Buffer.from(r.whole(c)));
    const info = tlv(0x30, tlv(0x02, Buffer.from([0])), tlv(0x30), makeSpki(alg!, bits!, spki), tlv(0xa0));
    const sigAlg = tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d040302', 'hex')));
    return tlv(0x30, info, sigAlg, tlv(0x03, Buffer.from([0]), sign('sha256', info, privateKey)));
  }

  it('ok/the untouched SPKI is accepted (the harness builds valid CSRs)', async () => {
    const csr = await csrWith((_a, _b, spki) => spki);
    expect(() => ca.issuer.issue(ID, csr)).not.toThrow();
  });

  const { tlv } = { tlv: (tag: number, ...c: Buffer[]) => Buffer.concat([Buffer.from([tag, c.reduce((n, x) => n + x.length, 0)]), ...c]) };
  const cases: [string, (alg: Buffer, bits: Buffer) => Buffer, string][] = [
    ['fail/a trailing INTEGER inside the SPKI', (alg, bits) => tlv(0x30, alg, bits, tlv(0x02, Buffer.from([0x2a]))), 'ERR_CSR_MALFORMED'],
    ['fail/a trailing NULL inside the AlgorithmIdentifier', (alg, bits) => tlv(0x30, tlv(0x30, alg.subarray(2), tlv(0x05)), bits), 'ERR_CSR_MALFORMED'],
    ['fail/junk octets after the key', (alg, bits) => tlv(0x30, alg, bits, tlv(0x04, Buffer.from('hello world'))), 'ERR_CSR_MALFORMED'],
    [
      'fail/a compressed point',
      (alg, bits) => {
        const y = bits.subarray(4 + 32); // bits = 03 42 00 04 x y
        const x = bits.subarray(4, 4 + 32);
        return tlv(0x30, alg, tlv(0x03, Buffer.from([0x00, 0x02 | (y[31]! & 1)]), x));
      },
      'ERR_CSR_KEY_UNSUPPORTED',
    ],
  ];
  for (const [name, make, code] of cases) {
    it(name, async () => {
      const csr = await csrWith((alg, bits) => make(alg, bits));
      expect(codeOf(() => ca.issuer.issue(ID, csr))).toBe(code);
    });
  }
});

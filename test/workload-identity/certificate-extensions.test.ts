import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, Certificate, id_ce_authorityKeyIdentifier, id_ce_subjectKeyIdentifier, SubjectKeyIdentifier } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorityKeyIdOf, pemDecode, SpiffeId } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { opensslNewEcKey, tempDir, testCa } from '../helpers/test-ca.js';

/** An independent reading (@peculiar/asn1-x509) of extension `oid` of `der`. */
function peculiarKeyId(der: Uint8Array, oid: string): string | undefined {
  const ext = AsnConvert.parse(der, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === oid);
  if (!ext) return undefined;
  if (oid === id_ce_subjectKeyIdentifier) return Buffer.from(AsnConvert.parse(ext.extnValue, SubjectKeyIdentifier).buffer).toString('hex');
  const aki = AsnConvert.parse(ext.extnValue, AuthorityKeyIdentifier);
  return aki.keyIdentifier ? Buffer.from(aki.keyIdentifier.buffer).toString('hex') : undefined;
}

let ca: Awaited<ReturnType<typeof testCa>>;
let leaf: Buffer;
const t = tempDir();
beforeAll(async () => {
  ca = await testCa();
  const id = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');
  leaf = ca.issuer.issue(id, (await testCsr({ uris: [id.toString()] })).der).leafDer;
});
afterAll(() => {
  ca.cleanup();
  t.cleanup();
});

describe('authorityKeyIdOf', () => {
  it('ok/a leaf names the key of the intermediate that signed it, as an ASN.1 library reads it', () => {
    const intermediate = ca.issuer.authority.issuer.der;
    expect(authorityKeyIdOf(leaf)).toMatch(/^[0-9a-f]{40}$/);
    expect(authorityKeyIdOf(leaf)).toBe(peculiarKeyId(leaf, id_ce_authorityKeyIdentifier));
    expect(authorityKeyIdOf(leaf)).toBe(peculiarKeyId(intermediate, id_ce_subjectKeyIdentifier));
  });

  it('ok/a certificate made by openssl, with and without the extension', () => {
    const withAki = path.join(t.dir, 'with.pem');
    expect(opensslNewEcKey({ x509: true, keyOut: path.join(t.dir, 'a.key'), out: withAki, subj: '/CN=with', extra: ['-days', '1'] }).status).toBe(0);
    const der = pemDecode(readFileSync(withAki, 'utf8'), 'CERTIFICATE')[0]!;
    expect(authorityKeyIdOf(der)).toBe(peculiarKeyId(der, id_ce_authorityKeyIdentifier));
    expect(authorityKeyIdOf(der)).toBeDefined();

    const conf = path.join(t.dir, 'none.cnf');
    writeFileSync(
      conf,
      '[req]\ndistinguished_name = dn\nx509_extensions = ext\n[dn]\n[ext]\nsubjectKeyIdentifier = none\nauthorityKeyIdentifier = none\nbasicConstraints = CA:FALSE\n',
    );
    const without = path.join(t.dir, 'without.pem');
    expect(opensslNewEcKey({ x509: true, keyOut: path.join(t.dir, 'b.key'), out: without, subj: '/CN=without', extra: ['-days', '1', '-config', conf] }).status).toBe(0);
    const bare = pemDecode(readFileSync(without, 'utf8'), 'CERTIFICATE')[0]!;
    expect(peculiarKeyId(bare, id_ce_authorityKeyIdentifier)).toBeUndefined();
    expect(authorityKeyIdOf(bare)).toBeUndefined();
  });

  it('fail/truncated or damaged DER gives undefined or a key id, never a throw or a value read from elsewhere', () => {
    for (let n = 0; n < leaf.length; n++) expect(authorityKeyIdOf(leaf.subarray(0, n)), `first ${n} bytes`).toBeUndefined();
    expect(authorityKeyIdOf(Buffer.concat([leaf, Buffer.of(0)]))).toBeUndefined();
    const want = authorityKeyIdOf(leaf);
    for (let i = 0; i < leaf.length; i++) {
      for (const x of [0x00, 0x80, 0xff]) {
        const m = Buffer.from(leaf);
        m[i] = x;
        const got = authorityKeyIdOf(m);
        // A change outside the extension may leave it readable; inside it, only the key id's own bytes can change it.
        if (got !== undefined && got !== want) expect(peculiarKeyId(m, id_ce_authorityKeyIdentifier), `byte ${i} = ${x}`).toBe(got);
      }
    }
  });

  it('fail/crafted structures: a key id only from a well-formed extension in the right place', () => {
    // DER by hand: short lengths only (every part here is under 128 bytes) unless a case says otherwise.
    const tlv = (tag: number, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      return Buffer.concat([Buffer.of(tag, body.length), body]);
    };
    const AKI = tlv(0x06, Buffer.of(0x55, 0x1d, 0x23));
    const keyId = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
    const akiValue = (inner = tlv(0x80, keyId)) => tlv(0x04, tlv(0x30, inner));
    const cert = (...extensions: Buffer[]) => tlv(0x30, tlv(0x30, tlv(0x02, Buffer.of(1)), tlv(0xa3, tlv(0x30, ...extensions))));
    const ext = (...parts: Buffer[]) => tlv(0x30, ...parts);

    expect(authorityKeyIdOf(cert(ext(AKI, akiValue())))).toBe(keyId.toString('hex'));
    // With the critical flag; after another extension (basicConstraints).
    expect(authorityKeyIdOf(cert(ext(AKI, tlv(0x01, Buffer.of(0xff)), akiValue())))).toBe(keyId.toString('hex'));
    expect(authorityKeyIdOf(cert(ext(tlv(0x06, Buffer.of(0x55, 0x1d, 0x13)), tlv(0x04, tlv(0x30))), ext(AKI, akiValue())))).toBe(keyId.toString('hex'));

    const refused: [string, Buffer][] = [
      ['a middle part that is no BOOLEAN', cert(ext(AKI, tlv(0x02, Buffer.of(1)), akiValue()))],
      ['an extnValue that is no OCTET STRING', cert(ext(AKI, tlv(0x30, tlv(0x80, keyId))))],
      ['an AuthorityKeyIdentifier without keyIdentifier (issuer and serial only)', cert(ext(AKI, akiValue(tlv(0xa1, Buffer.alloc(0)))))],
      ['bytes after the AuthorityKeyIdentifier', cert(ext(AKI, tlv(0x04, tlv(0x30, tlv(0x80, keyId)), Buffer.of(0))))],
      ['[3] holding two lists', tlv(0x30, tlv(0x30, tlv(0xa3, tlv(0x30, ext(AKI, akiValue())), tlv(0x30))))],
      ['the AKI OID one byte longer', cert(ext(tlv(0x06, Buffer.of(0x55, 0x1d, 0x23, 0x01)), akiValue()))],
      ['no extensions', tlv(0x30, tlv(0x30, tlv(0x02, Buffer.of(1))))],
      ['bytes after the certificate', Buffer.concat([cert(ext(AKI, akiValue())), Buffer.of(0)])],
    ];
    for (const [what, der] of refused) expect(authorityKeyIdOf(der), what).toBeUndefined();

    // A non-minimal long-form length (0x81 0x05 for 5) and an indefinite one (0x80) anywhere on the path.
    const good = cert(ext(AKI, akiValue()));
    const nonMinimal = Buffer.concat([Buffer.of(0x30, 0x81, good.length - 2), good.subarray(2)]);
    expect(authorityKeyIdOf(nonMinimal)).toBeUndefined();
    const indefinite = Buffer.concat([Buffer.of(0x30, 0x80), good.subarray(2), Buffer.of(0, 0)]);
    expect(authorityKeyIdOf(indefinite)).toBeUndefined();
  });
});

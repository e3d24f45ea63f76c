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
});

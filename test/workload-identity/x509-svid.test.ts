import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { CastellanError, SpiffeId, TrustDomain, validateX509SvidLeaf, validateX509SvidSigningCert, type X509SvidErrorCode } from '../../workload-identity/index.js';

x509.cryptoProvider.set(webcrypto);

const { digitalSignature, keyEncipherment, keyAgreement, keyCertSign, cRLSign } = x509.KeyUsageFlags;
const { serverAuth, clientAuth, codeSigning } = x509.ExtendedKeyUsage;
const LEAF_ID = 'spiffe://cluster.local/ns/shop/sa/cart';
const TD_ID = 'spiffe://cluster.local';
const EC: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

let caKeys: webcrypto.CryptoKeyPair;
let leafKeys: webcrypto.CryptoKeyPair;

beforeAll(async () => {
  // Keys are generated per run; none is ever committed.
  caKeys = (await webcrypto.subtle.generateKey(EC, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  leafKeys = (await webcrypto.subtle.generateKey(EC, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
});

const san = (uris: string[], critical = false, dns: string[] = []): x509.Extension =>
  new x509.SubjectAlternativeNameExtension([...uris.map((value) => ({ type: 'url' as const, value })), ...dns.map((value) => ({ type: 'dns' as const, value }))], critical);
const bc = (ca: boolean, pathLength?: number, critical = true): x509.Extension => new x509.BasicConstraintsExtension(ca, pathLength, critical);
const ku = (usages: number, critical = true): x509.Extension => new x509.KeyUsagesExtension(usages, critical);
const eku = (usages: string[]): x509.Extension => new x509.ExtendedKeyUsageExtension(usages, false);

/** Extensions of a conforming leaf; each failing case replaces or drops exactly one of them. */
const goodLeafExtensions = (): Record<string, x509.Extension | undefined> => ({
  san: san([LEAF_ID]),
  bc: bc(false),
  ku: ku(digitalSignature),
  eku: eku([serverAuth, clientAuth]),
});

const goodSigningExtensions = (): Record<string, x509.Extension | undefined> => ({
  san: san([TD_ID]),
  bc: bc(true, 0),
  ku: ku(keyCertSign | cRLSign),
});

async function makeCert(extensions: Array<x509.Extension | undefined>, subject: string | x509.Name = 'O=cluster.local, CN=test'): Promise<x509.X509Certificate> {
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    subject,
    issuer: 'O=cluster.local, CN=Test CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGN,
    extensions: extensions.filter((e): e is x509.Extension => e !== undefined),
  });
}

const leafWith = (changes: Record<string, x509.Extension | undefined>, subject?: string | x509.Name): Promise<x509.X509Certificate> =>
  makeCert(Object.values({ ...goodLeafExtensions(), ...changes }), subject);
const signingWith = (changes: Record<string, x509.Extension | undefined>): Promise<x509.X509Certificate> => makeCert(Object.values({ ...goodSigningExtensions(), ...changes }));

function caught(fn: () => unknown): CastellanError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CastellanError) return err;
    throw err;
  }
  return undefined;
}

/** A raw SAN extension holding an otherName, which @peculiar/x509's own GeneralName cannot decode. */
function sanWithOtherName(uri: string): x509.Extension {
  const utf8 = new Uint8Array([0x0c, 0x03, 0x61, 0x62, 0x63]);
  const names = new asn1.SubjectAlternativeName([
    new asn1.GeneralName({ otherName: new asn1.OtherName({ typeId: '1.3.6.1.4.1.99999.1', value: utf8.buffer }) }),
    new asn1.GeneralName({ uniformResourceIdentifier: uri }),
  ]);
  return new x509.Extension(asn1.id_ce_subjectAltName, false, AsnConvert.serialize(names));
}

describe('validateX509SvidLeaf', () => {
  const ok: Array<[name: string, changes: () => Record<string, x509.Extension | undefined>, subject?: x509.Name]> = [
    ['ok/good-leaf', () => ({})],
    ['ok/no-eku', () => ({ eku: undefined })],
    ['ok/eku-with-extra-usage', () => ({ eku: eku([serverAuth, clientAuth, codeSigning]) })],
    ['ok/key-encipherment-and-agreement', () => ({ ku: ku(digitalSignature | keyEncipherment | keyAgreement) })],
    ['ok/dns-san-besides-uri', () => ({ san: san([LEAF_ID], false, ['cart.shop.svc']) })],
    ['ok/empty-subject-critical-san', () => ({ san: san([LEAF_ID], true) }), new x509.Name([])],
    ['ok/other-name-san', () => ({ san: sanWithOtherName(LEAF_ID) })],
    ['ok/basic-constraints-not-critical', () => ({ bc: bc(false, undefined, false) })],
  ];
  for (const [name, changes, subject] of ok) {
    it(name, async () => {
      const cert = await leafWith(changes(), subject);
      const id = validateX509SvidLeaf(cert);
      expect(id).toBeInstanceOf(SpiffeId);
      expect(id.toString()).toBe(LEAF_ID);
    });
  }

  const fail: Array<[name: string, changes: () => Record<string, x509.Extension | undefined>, code: X509SvidErrorCode, subject?: x509.Name]> = [
    ['fail/no-san', () => ({ san: undefined }), 'ERR_SVID_NO_URI_SAN'],
    ['fail/dns-san-only', () => ({ san: san([], false, ['cart.shop.svc']) }), 'ERR_SVID_NO_URI_SAN'],
    ['fail/two-uri-sans', () => ({ san: san([LEAF_ID, 'spiffe://cluster.local/ns/shop/sa/other']) }), 'ERR_SVID_MULTIPLE_URI_SANS'],
    ['fail/bad-spiffe-id', () => ({ san: san(['spiffe://Cluster.local/ns/a/sa/b']) }), 'ERR_SVID_BAD_SPIFFE_ID'],
    ['fail/https-uri', () => ({ san: san(['https://cluster.local/x']) }), 'ERR_SVID_BAD_SPIFFE_ID'],
    ['fail/trust-domain-id', () => ({ san: san([TD_ID]) }), 'ERR_SVID_LEAF_NO_PATH'],
    ['fail/empty-subject-san-not-critical', () => ({}), 'ERR_SVID_SAN_NOT_CRITICAL', new x509.Name([])],
    ['fail/no-basic-constraints', () => ({ bc: undefined }), 'ERR_SVID_NO_BASIC_CONSTRAINTS'],
    ['fail/ca-true', () => ({ bc: bc(true) }), 'ERR_SVID_LEAF_IS_CA'],
    ['fail/path-len', () => ({ bc: bc(false, 0) }), 'ERR_SVID_LEAF_PATH_LEN'],
    ['fail/no-key-usage', () => ({ ku: undefined }), 'ERR_SVID_NO_KEY_USAGE'],
    ['fail/key-usage-not-critical', () => ({ ku: ku(digitalSignature, false) }), 'ERR_SVID_KEY_USAGE_NOT_CRITICAL'],
    ['fail/no-digital-signature', () => ({ ku: ku(keyEncipherment) }), 'ERR_SVID_LEAF_NO_DIGITAL_SIGNATURE'],
    ['fail/key-cert-sign', () => ({ ku: ku(digitalSignature | keyCertSign) }), 'ERR_SVID_LEAF_KEY_CERT_SIGN'],
    ['fail/crl-sign', () => ({ ku: ku(digitalSignature | cRLSign) }), 'ERR_SVID_LEAF_CRL_SIGN'],
    ['fail/eku-no-server-auth', () => ({ eku: eku([clientAuth]) }), 'ERR_SVID_EKU_MISSING_SERVER_AUTH'],
    ['fail/eku-no-client-auth', () => ({ eku: eku([serverAuth]) }), 'ERR_SVID_EKU_MISSING_CLIENT_AUTH'],
    ['fail/duplicate-san-extension', () => ({ san2: san([LEAF_ID]) }), 'ERR_SVID_DUPLICATE_EXTENSION'],
    ['fail/malformed-basic-constraints', () => ({ bc: new x509.Extension(asn1.id_ce_basicConstraints, true, new Uint8Array([0x30, 0x03, 0x01])) }), 'ERR_SVID_MALFORMED_EXTENSION'],
  ];
  for (const [name, changes, code, subject] of fail) {
    it(name, async () => {
      const cert = await leafWith(changes(), subject);
      expect(caught(() => validateX509SvidLeaf(cert))?.code).toBe(code);
    });
  }

  it('fail/two-uri-sans says how many and what is wanted', async () => {
    const cert = await leafWith({ san: san([LEAF_ID, `${LEAF_ID}2`]) });
    const err = caught(() => validateX509SvidLeaf(cert));
    expect(err?.message).toBe('x509svid: leaf has 2 URI SANs, want exactly 1');
    expect(err?.context['serial']).toBe(cert.serialNumber);
  });

  it('fail/bad-spiffe-id keeps the SPIFFE ID error as cause', async () => {
    const cert = await leafWith({ san: san(['spiffe://cluster.local/a/../b']) });
    const err = caught(() => validateX509SvidLeaf(cert));
    expect(err?.code).toBe('ERR_SVID_BAD_SPIFFE_ID');
    expect((err!.cause as CastellanError).code).toBe('ERR_SPIFFE_ID_PATH_DOT_SEGMENT');
  });

  it('fail/signing-cert-as-leaf', async () => {
    const cert = await signingWith({});
    expect(caught(() => validateX509SvidLeaf(cert))?.code).toBe('ERR_SVID_LEAF_NO_PATH');
  });

  it('fail/undecodable-certificate', () => {
    const fake = { rawData: new Uint8Array([0x30, 0x00]).buffer } as unknown as x509.X509Certificate;
    expect(caught(() => validateX509SvidLeaf(fake))?.code).toBe('ERR_SVID_MALFORMED');
  });

  it('fail/not-a-certificate throws TypeError', () => {
    expect(() => validateX509SvidLeaf('pem' as unknown as x509.X509Certificate)).toThrow(TypeError);
    expect(() => validateX509SvidLeaf(null as unknown as x509.X509Certificate)).toThrow(TypeError);
  });
});

describe('validateX509SvidSigningCert', () => {
  const td = TrustDomain.of('cluster.local');

  const ok: Array<[name: string, changes: () => Record<string, x509.Extension | undefined>, trustDomain?: TrustDomain]> = [
    ['ok/good-signing-cert', () => ({})],
    ['ok/matching-trust-domain', () => ({}), td],
    ['ok/no-san', () => ({ san: undefined }), td],
    ['ok/no-path-len', () => ({ bc: bc(true) })],
    ['ok/key-cert-sign-only', () => ({ ku: ku(keyCertSign) })],
    ['ok/digital-signature-too', () => ({ ku: ku(keyCertSign | cRLSign | digitalSignature) })],
    ['ok/eku-present', () => ({ eku: eku([serverAuth, clientAuth]) })],
  ];
  for (const [name, changes, trustDomain] of ok) {
    it(name, async () => {
      const cert = await signingWith(changes());
      expect(() => validateX509SvidSigningCert(cert, trustDomain)).not.toThrow();
    });
  }

  const fail: Array<[name: string, changes: () => Record<string, x509.Extension | undefined>, code: X509SvidErrorCode, trustDomain?: TrustDomain]> = [
    ['fail/no-basic-constraints', () => ({ bc: undefined }), 'ERR_SVID_NO_BASIC_CONSTRAINTS'],
    ['fail/not-ca', () => ({ bc: bc(false) }), 'ERR_SVID_SIGNING_NOT_CA'],
    ['fail/basic-constraints-not-critical', () => ({ bc: bc(true, 0, false) }), 'ERR_SVID_SIGNING_BASIC_CONSTRAINTS_NOT_CRITICAL'],
    ['fail/no-key-usage', () => ({ ku: undefined }), 'ERR_SVID_NO_KEY_USAGE'],
    ['fail/key-usage-not-critical', () => ({ ku: ku(keyCertSign | cRLSign, false) }), 'ERR_SVID_KEY_USAGE_NOT_CRITICAL'],
    ['fail/no-key-cert-sign', () => ({ ku: ku(cRLSign | digitalSignature) }), 'ERR_SVID_SIGNING_NO_KEY_CERT_SIGN'],
    ['fail/has-path', () => ({ san: san(['spiffe://cluster.local/ca']) }), 'ERR_SVID_SIGNING_HAS_PATH'],
    ['fail/trust-domain-mismatch', () => ({ san: san(['spiffe://other.local']) }), 'ERR_SVID_TRUST_DOMAIN_MISMATCH', td],
    ['fail/two-uri-sans', () => ({ san: san([TD_ID, 'spiffe://other.local']) }), 'ERR_SVID_MULTIPLE_URI_SANS'],
    ['fail/bad-spiffe-id', () => ({ san: san(['spiffe://cluster.local:8443']) }), 'ERR_SVID_BAD_SPIFFE_ID'],
    ['fail/duplicate-key-usage', () => ({ ku2: ku(keyCertSign) }), 'ERR_SVID_DUPLICATE_EXTENSION'],
  ];
  for (const [name, changes, code, trustDomain] of fail) {
    it(name, async () => {
      const cert = await signingWith(changes());
      expect(caught(() => validateX509SvidSigningCert(cert, trustDomain))?.code).toBe(code);
    });
  }

  it('fail/leaf-as-signing-cert', async () => {
    const cert = await leafWith({});
    expect(caught(() => validateX509SvidSigningCert(cert))?.code).toBe('ERR_SVID_SIGNING_NOT_CA');
  });

  it('fail/trust-domain-mismatch names both trust domains', async () => {
    const cert = await signingWith({});
    const err = caught(() => validateX509SvidSigningCert(cert, TrustDomain.of('prod.example.org')));
    expect(err?.message).toBe('x509svid: signing certificate belongs to trust domain "cluster.local", want "prod.example.org"');
    expect(err?.context).toMatchObject({ want: 'prod.example.org', got: 'cluster.local' });
  });
});

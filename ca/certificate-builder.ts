import { hash, randomFillSync } from 'node:crypto';
import { AsnConvert, AsnParser, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  KeyIdentifier,
  KeyUsage,
  type KeyUsageFlags,
  Name,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Time,
  Validity,
  Version,
  AlgorithmIdentifier,
} from '@peculiar/asn1-x509';
import { DerReader, TAG } from './der.js';
import { caError } from './errors.js';
import type { Signer } from './signer.js';

/** What a certificate says, before it is signed. Used for roots and intermediates (the leaf hot path has its own template). */
export interface CertificateFields {
  /** Positive DER INTEGER content, ≤ 20 octets (RFC 5280 §4.1.2.2). */
  readonly serial: Uint8Array;
  /** DER of the issuer Name. */
  readonly issuer: Uint8Array;
  /** DER of the subject Name. */
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  readonly extensions: readonly Extension[];
}

/**
 * 128 random bits as a positive INTEGER of exactly 16 octets: the top bit is cleared (positive) and a
 * zero first octet is avoided (DER minimal encoding), leaving 127 bits of entropy, above the 64 bits
 * CA/Browser Forum BR §7.1 asks for.
 */
export function randomSerial(): Buffer {
  // One CSPRNG call per 256 serials: a 16-byte randomBytes() costs ~8 µs of call overhead here.
  if (poolAt === SERIAL_POOL.length) {
    randomFillSync(SERIAL_POOL);
    poolAt = 0;
  }
  const b = Buffer.from(SERIAL_POOL.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  b[0] = b[0]! & 0x7f || 0x01;
  return b;
}
const SERIAL_POOL = Buffer.alloc(16 * 256);
let poolAt = SERIAL_POOL.length;

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
export function subjectKeyIdentifier(publicKeyBits: Uint8Array): Buffer {
  return hash('sha1', publicKeyBits, 'buffer');
}

/** The subjectPublicKey BIT STRING value (without the unused-bits octet) of an SPKI DER. */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  const r = new DerReader(spki, 'ERR_CA_DIR', 'spki');
  const seq = r.expect(0, TAG.SEQUENCE);
  const bits = r.children(seq)[1];
  if (!bits || bits.tag !== TAG.BIT_STRING) r.fail('no subjectPublicKey');
  return r.value(bits).subarray(1);
}

/** An extension from its OID and the asn1-schema value it wraps. */
export function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

export const ext = {
  basicConstraints: (cA: boolean, pathLenConstraint?: number) =>
    extension(id_ce_basicConstraints, true, new BasicConstraints(pathLenConstraint === undefined ? { cA } : { cA, pathLenConstraint })),
  keyUsage: (flags: KeyUsageFlags) => extension(id_ce_keyUsage, true, new KeyUsage(flags)),
  subjectKeyIdentifier: (ski: Uint8Array) => extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(ski)),
  authorityKeyIdentifier: (ski: Uint8Array) => extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(ski) })),
  /** RFC 5280 §4.2.1.6: critical exactly when the subject is empty. */
  san: (uri: string, dnsNames: readonly string[], critical: boolean) =>
    extension(
      id_ce_subjectAltName,
      critical,
      new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: uri }), ...dnsNames.map((dNSName) => new GeneralName({ dNSName }))]),
    ),
};

/** The latest time X.509 can say (RFC 5280 §4.1.2.5.2: GeneralizedTime has four year digits). */
const LAST_X509_TIME = Date.UTC(9999, 11, 31, 23, 59, 59);
/** The earliest (RFC 5280 §4.1.2.5.1: UTCTime years 50-99 are 1950-1999). */
const FIRST_X509_TIME = Date.UTC(1950, 0, 1);

/**
 * A validity X.509 can encode, ERR_TTL_INVALID otherwise: a lifetime of thousands of years used to
 * come out as a certificate that expired in the past (the year wrapped), without an error.
 */
function checkValidity(notBefore: Date, notAfter: Date): void {
  const from = notBefore.getTime();
  const to = notAfter.getTime();
  if (!(from >= FIRST_X509_TIME && to <= LAST_X509_TIME && from < to)) {
    throw caError('ERR_TTL_INVALID', `ca: a certificate valid from ${String(notBefore)} to ${String(notAfter)} cannot be written; the lifetime must end by 9999-12-31 (RFC 5280)`);
  }
}

/** DER of the TBSCertificate for `fields`, signed with `signatureAlgorithm`. */
export function encodeTbs(fields: CertificateFields, signatureAlgorithm: Uint8Array): Buffer {
  checkValidity(fields.notBefore, fields.notAfter);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(fields.serial),
    signature: AsnParser.parse(signatureAlgorithm, AlgorithmIdentifier),
    issuer: AsnParser.parse(fields.issuer, Name),
    validity: new Validity({ notBefore: fields.notBefore, notAfter: fields.notAfter }),
    subject: AsnParser.parse(fields.subject, Name),
    subjectPublicKeyInfo: AsnParser.parse(fields.spki, SubjectPublicKeyInfo),
    extensions: new Extensions([...fields.extensions]),
  });
  return Buffer.from(AsnConvert.serialize(tbs));
}

/**
 * Signs a certificate with `signer` and returns its DER.
 *
 * @example const der = signCertificate(fields, rootSigner);
 */
export function signCertificate(fields: CertificateFields, signer: Signer): Buffer {
  const tbsDer = encodeTbs(fields, signer.signatureAlgorithm.der);
  const cert = new Certificate({
    tbsCertificate: AsnParser.parse(tbsDer, TBSCertificate),
    signatureAlgorithm: AsnParser.parse(signer.signatureAlgorithm.der, AlgorithmIdentifier),
    signatureValue: toArrayBuffer(signer.sign(tbsDer)),
  });
  return Buffer.from(AsnConvert.serialize(cert));
}

/** DER of a Time (RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050). */
export function encodeTime(date: Date): Buffer {
  return Buffer.from(AsnConvert.serialize(new Time(date)));
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

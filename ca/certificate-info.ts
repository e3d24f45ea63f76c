import 'reflect-metadata';
import { X509Certificate as PeculiarCertificate, SubjectKeyIdentifierExtension } from '@peculiar/x509';
import { DerReader, TAG } from './der.js';
import { caError, type CaErrorCode } from './errors.js';
import { derToPem, pemBlocks } from './pem.js';
import { spkiPublicKeyBits, subjectKeyIdentifier } from './certificate-builder.js';

/** A parsed certificate with the raw pieces issuance needs (exact bytes, not re-encodings). */
export interface CertificateInfo {
  readonly der: Buffer;
  readonly pem: string;
  readonly cert: PeculiarCertificate;
  /** DER of the subject Name exactly as in the certificate. */
  readonly subject: Buffer;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Buffer;
  /** The SubjectKeyIdentifier extension value, or RFC 5280 method 1 over the key when absent. */
  readonly ski: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lowercase hex, without leading zeros beyond the DER ones. */
  readonly serialHex: string;
}

/**
 * Parses one DER certificate.
 *
 * @example const info = certificateInfo(der); info.notAfter
 */
export function certificateInfo(der: Uint8Array, onError: { code: CaErrorCode; what: string } = { code: 'ERR_CA_DIR', what: 'certificate' }): CertificateInfo {
  const bytes = Buffer.from(der);
  let cert: PeculiarCertificate;
  try {
    cert = new PeculiarCertificate(bytes);
  } catch (cause) {
    throw caError(onError.code, `${onError.what}: not a valid X.509 certificate`, { cause });
  }
  const r = new DerReader(bytes, onError.code, onError.what);
  const tbs = r.children(r.expect(0, TAG.SEQUENCE))[0]!;
  const fields = r.children(tbs);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version is absent in v1 certificates
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!subject || !spki) r.fail('TBSCertificate is missing fields');
  const spkiDer = Buffer.from(r.whole(spki));
  const skiExt = cert.getExtension(SubjectKeyIdentifierExtension);
  return Object.freeze({
    der: bytes,
    pem: derToPem(bytes, 'CERTIFICATE'),
    cert,
    subject: Buffer.from(r.whole(subject)),
    spki: spkiDer,
    ski: skiExt ? Buffer.from(skiExt.keyId, 'hex') : subjectKeyIdentifier(spkiPublicKeyBits(spkiDer)),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialHex: cert.serialNumber.toLowerCase(),
  });
}

/** Every certificate in a PEM text, parsed, in order. */
export function certificatesFromPem(text: string, onError: { code: CaErrorCode; what: string }): CertificateInfo[] {
  return pemBlocks(text, 'CERTIFICATE', onError).map((der) => certificateInfo(der, onError));
}

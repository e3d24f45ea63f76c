import { AsnConvert } from '@peculiar/asn1-schema';
import { ExtendedKeyUsage, id_ce_extKeyUsage, id_kp_clientAuth, id_kp_serverAuth, KeyUsageFlags, type Extension } from '@peculiar/asn1-x509';
import { encodeTime, ext, extension, subjectKeyIdentifier } from './certificate-builder.js';
import type { CertificateInfo } from './certificate-info.js';
import type { RequestKeyKind } from './csr.js';
import { oidValue, TAG, tlv } from './der.js';
import { signOffThread, type Signer } from './signer.js';

/** The parts of a request that end up in the leaf. */
export interface LeafSubjectKey {
  readonly spki: Uint8Array;
  readonly publicKeyBits: Uint8Array;
  readonly keyKind: RequestKeyKind;
}

/**
 * The X509-SVID leaf profile (docs/architecture.md §3, X509-SVID §4): empty subject, one critical URI SAN,
 * CA:false, digitalSignature (+ keyEncipherment for RSA keys, whose TLS 1.2 RSA key exchange needs it),
 * serverAuth + clientAuth, SKI and AKI. Written with @peculiar/asn1-x509; the template below must produce
 * exactly these bytes, which the tests check.
 */
export function svidExtensions(key: LeafSubjectKey, issuerSki: Uint8Array, uri: string, dnsNames: readonly string[] = []): Extension[] {
  const usage = key.keyKind === 'rsa' ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment : KeyUsageFlags.digitalSignature;
  return [
    ext.basicConstraints(false),
    ext.keyUsage(usage),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
    ext.subjectKeyIdentifier(subjectKeyIdentifier(key.publicKeyBits)),
    ext.authorityKeyIdentifier(issuerSki),
    ext.san(uri, dnsNames, true),
  ];
}

/** DER of an empty Name: X509-SVID leaves carry their identity in the SAN only. */
export const EMPTY_NAME = Buffer.from([TAG.SEQUENCE, 0x00]);

const SKI_LENGTH = 20;
const VERSION_V3 = Buffer.from([0xa0, 0x03, TAG.INTEGER, 0x01, 0x02]);
const SAN_HEAD = Buffer.concat([tlv(TAG.OID, oidValue('2.5.29.17')), Buffer.from([TAG.BOOLEAN, 0x01, 0xff])]);
const SIGNATURE_PAD = Buffer.from([0x00]);

/**
 * Builds X509-SVID leaves for one issuer at the speed of the signature: the DER of every part that does
 * not change per request (version, signature algorithm, issuer, static extensions) is encoded once by
 * @peculiar/asn1-x509, and each request only concatenates serial, validity, key, SKI and SAN.
 *
 * @example const der = new SvidTemplate(intermediate, signer).sign(req, 'spiffe://td/ns/a/sa/b', [], serial, nb, na);
 */
export class SvidTemplate {
  private readonly afterSerial: Buffer;
  private readonly staticExtensions: { ec: Buffer; rsa: Buffer };
  private readonly akiExtension: Buffer;
  private readonly skiPrefix: Buffer;

  constructor(
    readonly issuer: CertificateInfo,
    readonly signer: Signer,
  ) {
    this.afterSerial = Buffer.concat([signer.signatureAlgorithm.der, issuer.subject]);
    const der = (e: Extension) => Buffer.from(AsnConvert.serialize(e));
    const placeholder = (kind: RequestKeyKind) => svidExtensions({ spki: new Uint8Array(), publicKeyBits: new Uint8Array(), keyKind: kind }, issuer.ski, 'spiffe://x/y');
    const ec = placeholder('ec-p256');
    const rsa = placeholder('rsa');
    // Extensions 0..2 (basicConstraints, keyUsage, extKeyUsage) are fixed per key kind; 3 is SKI; 4 AKI.
    this.staticExtensions = { ec: Buffer.concat(ec.slice(0, 3).map(der)), rsa: Buffer.concat(rsa.slice(0, 3).map(der)) };
    const skiDer = der(ec[3]!);
    this.skiPrefix = skiDer.subarray(0, skiDer.length - SKI_LENGTH);
    this.akiExtension = der(ec[4]!);
  }

  /** DER of the TBSCertificate. `serial` is a positive INTEGER's content octets; `ipAddresses` are 4 or 16 octets each. */
  tbs(key: LeafSubjectKey, uri: string, dnsNames: readonly string[], serial: Uint8Array, notBefore: Date, notAfter: Date, ipAddresses: readonly Uint8Array[] = []): Buffer {
    const ski = Buffer.concat([this.skiPrefix, subjectKeyIdentifier(key.publicKeyBits)]);
    // GeneralName [6] uniformResourceIdentifier first, then [2] dNSName (RFC 5280 §4.2.1.6, IMPLICIT IA5String),
    // then [7] iPAddress (IMPLICIT OCTET STRING).
    const names = [tlv(0x86, Buffer.from(uri, 'latin1')), ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'latin1'))), ...ipAddresses.map((ip) => tlv(0x87, ip))];
    const san = tlv(TAG.SEQUENCE, SAN_HEAD, tlv(TAG.OCTET_STRING, tlv(TAG.SEQUENCE, ...names)));
    const extensions = tlv(0xa3, tlv(TAG.SEQUENCE, key.keyKind === 'rsa' ? this.staticExtensions.rsa : this.staticExtensions.ec, ski, this.akiExtension, san));
    return tlv(TAG.SEQUENCE, VERSION_V3, tlv(TAG.INTEGER, serial), this.afterSerial, tlv(TAG.SEQUENCE, fastTime(notBefore), fastTime(notAfter)), EMPTY_NAME, key.spki, extensions);
  }

  /** DER of the signed certificate. */
  sign(key: LeafSubjectKey, uri: string, dnsNames: readonly string[], serial: Uint8Array, notBefore: Date, notAfter: Date, ipAddresses: readonly Uint8Array[] = []): Buffer {
    const tbs = this.tbs(key, uri, dnsNames, serial, notBefore, notAfter, ipAddresses);
    const signature = this.signer.sign(tbs);
    return tlv(TAG.SEQUENCE, tbs, this.signer.signatureAlgorithm.der, tlv(TAG.BIT_STRING, SIGNATURE_PAD, signature));
  }

  /** `sign` with the signature computed off the event loop when the signer can (Signer.signAsync). */
  async signAsync(key: LeafSubjectKey, uri: string, dnsNames: readonly string[], serial: Uint8Array, notBefore: Date, notAfter: Date): Promise<Buffer> {
    const tbs = this.tbs(key, uri, dnsNames, serial, notBefore, notAfter);
    const signature = await signOffThread(this.signer, tbs);
    return tlv(TAG.SEQUENCE, tbs, this.signer.signatureAlgorithm.der, tlv(TAG.BIT_STRING, SIGNATURE_PAD, signature));
  }
}

const pad2 = (n: number) => (n < 10 ? '0' : '') + n;

/** UTCTime `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1) for 1950–2049; the library encoder otherwise. */
function fastTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) return encodeTime(d);
  const text = `${pad2(y % 100) + pad2(d.getUTCMonth() + 1) + pad2(d.getUTCDate()) + pad2(d.getUTCHours()) + pad2(d.getUTCMinutes()) + pad2(d.getUTCSeconds())}Z`;
  return tlv(TAG.UTC_TIME, Buffer.from(text, 'latin1'));
}

import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, KeyUsageFlags, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import type { TrustDomain } from '../workload-identity/index.js';
import { ext, randomSerial, signCertificate, spkiPublicKeyBits, subjectKeyIdentifier } from './certificate-builder.js';
import type { Signer } from './signer.js';

/** Certificates are backdated so that peers with a slightly slow clock accept them at once (docs/architecture.md §3). */
export const BACKDATE_MS = 60_000;

const OID_ORGANIZATION = '2.5.4.10';
const OID_COMMON_NAME = '2.5.4.3';

/** DER of `O=<trust domain>, CN=<cn>` (docs/architecture.md §3), UTF8String values. */
export function authorityName(trustDomain: TrustDomain, commonName: string): Buffer {
  const rdn = (type: string, value: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return Buffer.from(AsnConvert.serialize(new Name([rdn(OID_ORGANIZATION, trustDomain.name), rdn(OID_COMMON_NAME, commonName)])));
}

export interface RootOptions {
  readonly trustDomain: TrustDomain;
  /** Generation number in the CN, `Castellan Root CA <n>`. */
  readonly generation: number;
  readonly signer: Signer;
  readonly now: Date;
  /** Lifetime in ms (default 10 y is applied by the caller). */
  readonly ttlMs: number;
}

/**
 * A self-signed root: CA:true (critical), keyCertSign+cRLSign (critical), SKI = AKI, URI SAN of the
 * trust domain (docs/architecture.md §3, X509-SVID §4.1/§4.3).
 *
 * @example const rootDer = createRootCertificate({ trustDomain, generation: 1, signer, now: new Date(), ttlMs: TEN_YEARS });
 */
export function createRootCertificate(o: RootOptions): Buffer {
  const name = authorityName(o.trustDomain, `Castellan Root CA ${o.generation}`);
  const ski = subjectKeyIdentifier(spkiPublicKeyBits(o.signer.spki));
  return signCertificate(
    {
      serial: randomSerial(),
      issuer: name,
      subject: name,
      notBefore: new Date(o.now.getTime() - BACKDATE_MS),
      notAfter: new Date(o.now.getTime() + o.ttlMs),
      spki: o.signer.spki,
      extensions: [
        ext.basicConstraints(true),
        ext.keyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign),
        ext.subjectKeyIdentifier(ski),
        ext.authorityKeyIdentifier(ski),
        ext.san(`spiffe://${o.trustDomain.name}`, [], false),
      ],
    },
    o.signer,
  );
}

export interface IntermediateOptions {
  readonly trustDomain: TrustDomain;
  readonly generation: number;
  /** SubjectPublicKeyInfo DER of the intermediate's key. */
  readonly spki: Uint8Array;
  /** The issuing root: its subject Name DER, SKI and notAfter. */
  readonly issuer: { readonly subject: Uint8Array; readonly ski: Uint8Array; readonly notAfter: Date; readonly signer: Signer };
  readonly now: Date;
  readonly ttlMs: number;
}

/**
 * An intermediate signed by a root: CA:true pathLen 0, so it can only sign workload leaves; its
 * notAfter never outlives the root.
 */
export function createIntermediateCertificate(o: IntermediateOptions): Buffer {
  const notAfter = Math.min(o.now.getTime() + o.ttlMs, o.issuer.notAfter.getTime());
  return signCertificate(
    {
      serial: randomSerial(),
      issuer: o.issuer.subject,
      subject: authorityName(o.trustDomain, `Castellan Intermediate ${o.generation}`),
      notBefore: new Date(o.now.getTime() - BACKDATE_MS),
      notAfter: new Date(notAfter),
      spki: o.spki,
      extensions: [
        ext.basicConstraints(true, 0),
        ext.keyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign),
        ext.subjectKeyIdentifier(subjectKeyIdentifier(spkiPublicKeyBits(o.spki))),
        ext.authorityKeyIdentifier(o.issuer.ski),
        ext.san(`spiffe://${o.trustDomain.name}`, [], false),
      ],
    },
    o.issuer.signer,
  );
}

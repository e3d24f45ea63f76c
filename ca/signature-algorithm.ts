import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { KeyType } from './key-type.js';

/** A certificate signature algorithm: what `crypto.sign` needs and how certificates name it. */
export interface SignatureAlgorithm {
  /** Human name, e.g. `ecdsa-with-SHA256`. */
  readonly name: string;
  /** Object identifier (dotted). */
  readonly oid: string;
  /** Digest for `crypto.sign` / `crypto.verify`. */
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** DER of the AlgorithmIdentifier, as it appears in TBSCertificate.signature and Certificate.signatureAlgorithm. */
  readonly der: Buffer;
}

function algorithm(name: string, oid: string, hash: SignatureAlgorithm['hash'], nullParams: boolean): SignatureAlgorithm {
  // RFC 5758 §3.2: ECDSA identifiers have absent parameters; RFC 4055 §5: RSA PKCS#1 v1.5 ones carry NULL.
  const id = new AlgorithmIdentifier({ algorithm: oid, ...(nullParams ? { parameters: null } : {}) });
  return Object.freeze({ name, oid, hash, der: Buffer.from(AsnConvert.serialize(id)) });
}

export const ECDSA_SHA256 = algorithm('ecdsa-with-SHA256', '1.2.840.10045.4.3.2', 'sha256', false);
export const ECDSA_SHA384 = algorithm('ecdsa-with-SHA384', '1.2.840.10045.4.3.3', 'sha384', false);
export const ECDSA_SHA512 = algorithm('ecdsa-with-SHA512', '1.2.840.10045.4.3.4', 'sha512', false);
export const RSA_SHA256 = algorithm('sha256WithRSAEncryption', '1.2.840.113549.1.1.11', 'sha256', true);
export const RSA_SHA384 = algorithm('sha384WithRSAEncryption', '1.2.840.113549.1.1.12', 'sha384', true);
export const RSA_SHA512 = algorithm('sha512WithRSAEncryption', '1.2.840.113549.1.1.13', 'sha512', true);

/** The algorithm a CA key of this type signs certificates with (hash strength matched to the key). */
export function signatureAlgorithmFor(keyType: KeyType): SignatureAlgorithm {
  if (keyType === 'ec-p256') return ECDSA_SHA256;
  if (keyType === 'ec-p384') return ECDSA_SHA384;
  return RSA_SHA256;
}

/** Signature algorithms accepted on CSRs, by OID. SHA-1 and RSA-PSS are deliberately absent. */
export const CSR_SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithm> = new Map(
  [ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512, RSA_SHA256, RSA_SHA384, RSA_SHA512].map((a) => [a.oid, a]),
);

import { X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, Certificate, id_ce_authorityKeyIdentifier } from '@peculiar/asn1-x509';
import { CastellanError, uriSansOf } from '../workload-identity/index.js';
import type { SignedCertificate } from './ca-client.js';
import type { TrustBundle, WorkloadSvid } from './secret-source.js';

/**
 * Pairs what the CA signed with the key the agent generated, after checking that the leaf is for that
 * key and carries the identity the CA named (X509-SVID §2: exactly one URI SAN, the SPIFFE ID). A CA
 * answer that fails these checks is refused rather than served.
 *
 * @example const svid = workloadSvid(await ca.sign(...), key);
 */
export function workloadSvid(signed: SignedCertificate, key: KeyObject): WorkloadSvid {
  const leaf = new X509Certificate(signed.chainDer[0]!);
  if (!leaf.checkPrivateKey(key)) throw new CastellanError('ERR_CA_RESPONSE', 'sds: the CA returned a certificate for another key');
  const uris = uriSansOf(leaf.subjectAltName);
  if (uris.length !== 1 || uris[0] !== signed.spiffeId) {
    throw new CastellanError('ERR_CA_RESPONSE', `sds: the CA's leaf names ${uris.join(', ') || 'no URI SAN'}, not ${signed.spiffeId}`);
  }
  const keyPkcs8Der = key.export({ format: 'der', type: 'pkcs8' });
  return Object.freeze({
    spiffeId: signed.spiffeId,
    chainDer: Object.freeze([...signed.chainDer]),
    chainPem: signed.chainPem,
    keyPkcs8Der,
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }) as string,
    serialHex: signed.serialHex,
    notBefore: signed.notBefore,
    notAfter: signed.notAfter,
  });
}

/**
 * True when the top of the SVID's chain is issued by one of the bundle's roots (RFC 5280 §6.1: name
 * chaining and signature). After a root rotation that removed the leaf's root, the leaf must be renewed.
 *
 * @example if (!chainsTo(svid, bundle)) rotation.renewNow('bundle changed');
 */
export function chainsTo(svid: WorkloadSvid, bundle: TrustBundle): boolean {
  const top = new X509Certificate(svid.chainDer[svid.chainDer.length - 1]!);
  return bundle.rootsDer.some((der) => {
    const root = new X509Certificate(der);
    if (root.raw.equals(top.raw)) return true;
    return top.checkIssued(root) && top.verify(root.publicKey);
  });
}

/**
 * The key identifier in the leaf's authority key identifier extension (RFC 5280 §4.2.1.1), lowercase
 * hex: which intermediate signed it. Undefined when the leaf has none (then the agent cannot tell).
 *
 * @example leafIssuerKeyId(svid) === bundleMessage.activeIssuerKeyId
 */
export function leafIssuerKeyId(svid: Pick<WorkloadSvid, 'chainDer'>): string | undefined {
  const der = svid.chainDer[0];
  if (!der) return undefined;
  try {
    const cert = AsnConvert.parse(der, Certificate);
    const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_authorityKeyIdentifier);
    if (!ext) return undefined;
    const aki = AsnConvert.parse(ext.extnValue, AuthorityKeyIdentifier);
    return aki.keyIdentifier ? Buffer.from(aki.keyIdentifier.buffer).toString('hex') : undefined;
  } catch {
    return undefined;
  }
}

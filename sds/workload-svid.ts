import { X509Certificate, type KeyObject } from 'node:crypto';
import { authorityKeyIdOf, CastellanError, isCastellanError, X509Svid, type TrustBundle } from '../workload-identity/index.js';
import type { SignedCertificate } from './ca-client.js';

/**
 * Pairs what the CA signed with the key the agent generated, after checking that the leaf is for that
 * key and carries the identity the CA named (X509-SVID §2: exactly one URI SAN, the SPIFFE ID). A CA
 * answer that fails these checks is refused rather than served.
 *
 * @example const svid = workloadSvid(await ca.sign(...), key);
 */
export function workloadSvid(signed: SignedCertificate, key: KeyObject): X509Svid {
  let svid: X509Svid;
  try {
    svid = X509Svid.of(signed.chainDer, key);
  } catch (err) {
    if (isCastellanError(err, 'ERR_SVID_KEY_MISMATCH')) throw new CastellanError('ERR_CA_RESPONSE', 'sds: the CA returned a certificate for another key', { cause: err });
    if (!isCastellanError(err)) throw err;
    throw new CastellanError('ERR_CA_RESPONSE', `sds: the CA's answer is no X509-SVID for ${signed.id.toString()}: ${err.message}`, { cause: err });
  }
  if (!svid.id.equals(signed.id)) throw new CastellanError('ERR_CA_RESPONSE', `sds: the CA's leaf names ${svid.id.toString()}, not ${signed.id.toString()}`);
  return svid;
}

/**
 * True when the top of the SVID's chain is issued by one of the bundle's roots (RFC 5280 §6.1: name
 * chaining and signature). After a root rotation that removed the leaf's root, the leaf must be renewed.
 *
 * @example if (!chainsTo(svid, bundle)) rotation.renewNow('bundle changed');
 */
export function chainsTo(svid: X509Svid, bundle: TrustBundle): boolean {
  const top = new X509Certificate(svid.chain[svid.chain.length - 1]!);
  return bundle.roots.some((der) => {
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
export function leafIssuerKeyId(svid: Pick<X509Svid, 'chain'>): string | undefined {
  const der = svid.chain[0];
  return der ? authorityKeyIdOf(der) : undefined;
}

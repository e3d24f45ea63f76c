import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { SpiffeId } from './spiffe-id.js';

/**
 * The URI SANs of a certificate, from Node's `subjectAltName` text (`URI:a, DNS:b, ...`). SPIFFE IDs
 * contain no `, ` (SPIFFE-ID §2), so splitting there is exact for them.
 *
 * @example uriSansOf(new X509Certificate(pem).subjectAltName) // ['spiffe://td/ns/a/sa/b']
 */
export function uriSansOf(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(', ')
    .filter((x) => x.startsWith('URI:'))
    .map((x) => x.slice(4));
}

/**
 * The SPIFFE ID of an X509-SVID (or of a CA certificate, whose ID names only its trust domain): its one
 * URI SAN, when there is exactly one and it is a SPIFFE ID (X509-SVID §2); otherwise undefined. For a
 * verdict on the whole certificate use validateX509SvidLeaf.
 *
 * @example const id = spiffeIdOf(tlsSocket.getPeerCertificate()); if (id?.equals(expected)) ...
 */
export function spiffeIdOf(certificate: Pick<X509Certificate, 'subjectAltName'> | Pick<PeerCertificate, 'subjectaltname'>): SpiffeId | undefined {
  const text = 'subjectAltName' in certificate ? certificate.subjectAltName : certificate.subjectaltname;
  const uris = uriSansOf(text);
  if (uris.length !== 1) return undefined;
  try {
    return SpiffeId.parse(uris[0]!);
  } catch {
    return undefined;
  }
}

import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { SpiffeId } from './spiffe-id.js';

// A PKCS#10 request (RFC 2986) written directly in DER with node:crypto: the agent makes one per
// workload certificate, and an X.509 library would cost it ~15 MB of memory and 0.2 s of start-up for
// these few bytes. The CA reads requests with its own strict parser (ca/csr.ts); the tests cross-check
// these with @peculiar/asn1-csr and openssl.

/** DER length octets (X.690 §8.1.3). */
function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag`, then the concatenated `parts` as value. */
function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const value = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(value.length), value]);
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const septets = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) septets.unshift(0x80 | (v & 0x7f));
    out.push(...septets);
  }
  return tlv(0x06, Buffer.from(out));
};
const EXTENSION_REQUEST = OID('1.2.840.113549.1.9.14'); // RFC 2985 §5.4.2
const SUBJECT_ALT_NAME = OID('2.5.29.17'); // RFC 5280 §4.2.1.6
const CRITICAL = Buffer.from([0x01, 0x01, 0xff]);
/** RFC 5758 §3.2 ecdsa-with-SHA256/384 (no parameters); RFC 4055 §5 sha256WithRSAEncryption (NULL). */
const ALGORITHMS = {
  'P-256': { hash: 'sha256', der: tlv(SEQUENCE, OID('1.2.840.10045.4.3.2')) },
  'P-384': { hash: 'sha384', der: tlv(SEQUENCE, OID('1.2.840.10045.4.3.3')) },
  rsa: { hash: 'sha256', der: tlv(SEQUENCE, OID('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])) },
} as const;

function algorithmOf(key: KeyObject): (typeof ALGORITHMS)[keyof typeof ALGORITHMS] {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return ALGORITHMS['P-256'];
    if (curve === 'secp384r1' || curve === 'P-384') return ALGORITHMS['P-384'];
    throw new TypeError(`createSvidRequest: EC curve ${curve ?? 'unknown'} is not supported; use P-256 or P-384`);
  }
  if (key.asymmetricKeyType === 'rsa') return ALGORITHMS.rsa;
  throw new TypeError(`createSvidRequest: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported`);
}

/**
 * A PKCS#10 request (DER) for an X509-SVID, signed with `privateKey` (EC P-256/P-384 or RSA). The
 * subject is empty; when `id` is given it is requested as the only URI SAN, as istio-agent does (DNS
 * names after it are only for servers whose CA policy grants them, such as the CA's own). The
 * CA takes the identity from the caller's credentials anyway (docs/architecture.md §2); the SAN lets it refuse a
 * request made for another identity by mistake.
 *
 * @example const der = await createSvidRequest(privateKey, SpiffeId.parse('spiffe://td/ns/a/sa/b'));
 */
export async function createSvidRequest(privateKey: KeyObject, id?: SpiffeId, dnsNames: readonly string[] = []): Promise<Buffer> {
  if (privateKey.type !== 'private') throw new TypeError('createSvidRequest: a private key is required');
  const alg = algorithmOf(privateKey);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  // GeneralName [6] uniformResourceIdentifier and [2] dNSName, IMPLICIT IA5String (RFC 5280 §4.2.1.6);
  // the SAN is critical because the subject is empty (RFC 5280 §4.2.1.6, X509-SVID §4.1).
  const names = [...(id ? [tlv(0x86, Buffer.from(id.toString(), 'latin1'))] : []), ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'latin1')))];
  const attributes =
    names.length > 0
      ? tlv(0xa0, tlv(SEQUENCE, EXTENSION_REQUEST, tlv(SET, tlv(SEQUENCE, tlv(SEQUENCE, SUBJECT_ALT_NAME, CRITICAL, tlv(0x04, tlv(SEQUENCE, ...names)))))))
      : Buffer.from([0xa0, 0x00]);
  // CertificationRequestInfo: version 0, empty subject Name, subjectPKInfo, attributes [0].
  const info = tlv(SEQUENCE, Buffer.from([0x02, 0x01, 0x00]), Buffer.from([SEQUENCE, 0x00]), spki, attributes);
  const signature = await new Promise<Buffer>((resolve, reject) => sign(alg.hash, info, privateKey, (err, sig) => (err ? reject(err) : resolve(sig))));
  return tlv(SEQUENCE, info, alg.der, tlv(0x03, Buffer.from([0x00]), signature));
}

import { X509Certificate, type KeyObject } from 'node:crypto';
import { CastellanError, isCastellanError } from './errors.js';
import { pemEncode } from './pem.js';
import { uriSansOf } from './spiffe-id-of.js';
import { SpiffeId } from './spiffe-id.js';
import type { X509SvidErrorCode } from './x509-svid.js';

/** Why certificates and a key do not make an X509-SVID (the profile rules are validateX509SvidLeaf's). */
export type X509SvidValueErrorCode =
  | Extract<X509SvidErrorCode, 'ERR_SVID_MALFORMED' | 'ERR_SVID_NO_URI_SAN' | 'ERR_SVID_MULTIPLE_URI_SANS' | 'ERR_SVID_BAD_SPIFFE_ID'>
  | 'ERR_SVID_KEY_MISMATCH';

// Set in the class's static block so that only X509Svid.of builds values.
let newX509Svid!: (f: X509SvidFields) => X509Svid;

interface X509SvidFields {
  readonly id: SpiffeId;
  readonly chain: readonly Buffer[];
  readonly key: KeyObject;
  readonly leaf: X509Certificate;
}

/**
 * An X509-SVID with its private key (X509-SVID §2, §4): the SPIFFE ID, the certificate chain and the key
 * of the leaf, plus the encodings the agent serves (computed once). Immutable; made only by
 * {@link X509Svid.of}.
 *
 * @example
 *   const svid = X509Svid.of(chainDer, key);
 *   svid.id.toString(); // 'spiffe://cluster.local/ns/shop/sa/cart'
 */
export class X509Svid {
  /** The SPIFFE ID: the leaf's one URI SAN (X509-SVID §2). */
  readonly id: SpiffeId;
  /** Leaf first, then intermediates up to (not including) the root, DER. */
  readonly chain: readonly Buffer[];
  /** The leaf's private key. Never logged, never written to disk by the agent. */
  readonly key: KeyObject;
  /** The leaf's serial, lowercase hex. */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The chain as concatenated PEM (what Envoy's `certificate_chain` takes). */
  readonly chainPem: string;
  /** The key as PKCS#8 DER (what the Workload API's `x509_svid_key` takes). */
  readonly keyPkcs8Der: Buffer;
  /** The key as PKCS#8 PEM (what Envoy's `private_key` takes). */
  readonly keyPem: string;

  static {
    newX509Svid = (f) => new X509Svid(f);
  }

  private constructor(f: X509SvidFields) {
    this.id = f.id;
    this.chain = Object.freeze([...f.chain]);
    this.key = f.key;
    this.serialHex = f.leaf.serialNumber.toLowerCase();
    this.notBefore = new Date(f.leaf.validFrom);
    this.notAfter = new Date(f.leaf.validTo);
    this.chainPem = f.chain.map((der) => pemEncode(der, 'CERTIFICATE')).join('');
    this.keyPkcs8Der = f.key.export({ format: 'der', type: 'pkcs8' });
    this.keyPem = f.key.export({ format: 'pem', type: 'pkcs8' }) as string;
    // The key's encodings are read by name only: a spread, Object.keys or util.inspect does not show them.
    Object.defineProperty(this, 'keyPem', { enumerable: false });
    Object.defineProperty(this, 'keyPkcs8Der', { enumerable: false });
    Object.freeze(this);
  }

  /**
   * Checks that `chain` (DER, leaf first) and `key` make an X509-SVID: every element is an X.509
   * certificate, `key` is the leaf's private key, and the leaf names exactly one SPIFFE ID (X509-SVID
   * §2). It does not check the certificate profile (validateX509SvidLeaf) nor verify the chain.
   *
   * @example const svid = X509Svid.of([leafDer, intermediateDer], key);
   */
  static of(chain: readonly Uint8Array[], key: KeyObject): X509Svid {
    if (key?.type !== 'private') throw new TypeError("x509svid: X509Svid.of expects the leaf's private KeyObject");
    if (chain.length === 0) throw fail('ERR_SVID_MALFORMED', 'the chain is empty; want the leaf first, then its intermediates');
    const ders = chain.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    const certs = ders.map((der, i) => {
      try {
        return new X509Certificate(der);
      } catch (cause) {
        throw fail('ERR_SVID_MALFORMED', `certificate ${i} of the chain is not a DER X.509 certificate`, cause);
      }
    });
    const leaf = certs[0]!;
    if (!leaf.checkPrivateKey(key)) throw fail('ERR_SVID_KEY_MISMATCH', 'the private key is not the key of the leaf certificate');
    const uris = uriSansOf(leaf.subjectAltName);
    if (uris.length === 0) throw fail('ERR_SVID_NO_URI_SAN', 'leaf has no URI SAN, want exactly 1 (the SPIFFE ID)');
    if (uris.length > 1) throw fail('ERR_SVID_MULTIPLE_URI_SANS', `leaf has ${uris.length} URI SANs (${uris.join(', ')}), want exactly 1`);
    let id: SpiffeId;
    try {
      id = SpiffeId.parse(uris[0]!);
    } catch (cause) {
      if (!isCastellanError(cause)) throw cause;
      throw fail('ERR_SVID_BAD_SPIFFE_ID', `leaf URI SAN is not a valid SPIFFE ID: ${cause.message.replace(/^spiffeid: /, '')}`, cause);
    }
    return newX509Svid({ id, chain: ders, key, leaf });
  }

  /** What logs and JSON may show: identity, serial and validity, never the key. */
  toJSON(): { id: string; serialHex: string; notBefore: string; notAfter: string } {
    return { id: this.id.toString(), serialHex: this.serialHex, notBefore: this.notBefore.toISOString(), notAfter: this.notAfter.toISOString() };
  }

  /** What console.log, util.inspect and test diffs show: the same as JSON, never the key. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `X509Svid ${JSON.stringify(this.toJSON())}`;
  }
}

function fail(code: X509SvidValueErrorCode, what: string, cause?: unknown): CastellanError<X509SvidValueErrorCode> {
  return new CastellanError(code, `x509svid: ${what}`, cause === undefined ? {} : { cause });
}

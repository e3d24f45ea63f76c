import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { bytesEqual, DerReader, oidValue, TAG, type Tlv } from './der.js';
import { caError } from './errors.js';
import { CSR_SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './signature-algorithm.js';

/** Key algorithms a workload may certify: EC P-256/P-384, RSA 2048–8192 with e = 65537 (docs/architecture.md §3). */
export type RequestKeyKind = 'ec-p256' | 'ec-p384' | 'rsa';

/** A CSR that parsed, passed the key policy, carries a valid self-signature and asks for no CA powers. */
export interface CertificateRequest {
  /** SubjectPublicKeyInfo DER, copied verbatim into the certificate. */
  readonly spki: Uint8Array;
  /** The subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2 key identifier input). */
  readonly publicKeyBits: Uint8Array;
  readonly keyKind: RequestKeyKind;
  /** For people: `EC P-256`, `RSA-3072`. */
  readonly keyDescription: string;
  readonly publicKey: KeyObject;
  /** URI SANs the CSR asked for (the CA never copies them; they must equal the caller's identity). */
  readonly uriSans: readonly string[];
  /** DNS SANs the CSR asked for. */
  readonly dnsSans: readonly string[];
  /** SANs of other kinds (email, IP, directory name ...), which a workload certificate never gets. */
  readonly otherSanCount: number;
  readonly signatureAlgorithm: SignatureAlgorithm;
}

const MAX_CSR_BYTES = 64 * 1024;
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

const OID_EC_PUBLIC_KEY = oidValue('1.2.840.10045.2.1');
const OID_P256 = oidValue('1.2.840.10045.3.1.7');
const OID_P384 = oidValue('1.3.132.0.34');
const OID_RSA = oidValue('1.2.840.113549.1.1.1');
const OID_EXTENSION_REQUEST = oidValue('1.2.840.113549.1.9.14');
const OID_SAN = oidValue('2.5.29.17');
const OID_BASIC_CONSTRAINTS = oidValue('2.5.29.19');
const OID_KEY_USAGE = oidValue('2.5.29.15');

const PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];

/**
 * Parses a PKCS#10 CSR (PEM or DER), enforces the key policy, verifies its self-signature (proof of
 * possession) and refuses requested CA powers. Errors carry ERR_CSR_* codes and say what to fix.
 *
 * @example const req = parseCsr(pemString); req.keyDescription // 'EC P-256'
 */
export function parseCsr(input: string | Uint8Array): CertificateRequest {
  const p = readCsr(input);
  let ok: boolean;
  try {
    ok = cryptoVerify(p.check.hash, p.check.data, p.check.key, p.check.signature);
  } catch {
    ok = false; // a signature that is not even valid DER is a bad signature, not a server fault
  }
  return accept(p, ok);
}

/**
 * parseCsr with the self-signature verified on the libuv thread pool (Node's callback
 * `crypto.verify`), so that the CA's request path uses every core (docs/architecture.md §4). The key
 * import and the DER walk stay on the calling thread. Same checks, same errors.
 *
 * @example const req = await parseCsrAsync(pemString);
 */
export function parseCsrAsync(input: string | Uint8Array): Promise<CertificateRequest> {
  let p: ReadCsr;
  try {
    p = readCsr(input);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    try {
      cryptoVerify(p.check.hash, p.check.data, p.check.key, p.check.signature, (err, ok) => {
        try {
          resolve(accept(p, !err && ok));
        } catch (e) {
          reject(e);
        }
      });
    } catch {
      try {
        resolve(accept(p, false));
      } catch (e) {
        reject(e);
      }
    }
  });
}

interface ReadCsr {
  readonly request: CertificateRequest;
  readonly check: { hash: string; data: Uint8Array; key: KeyObject; signature: Uint8Array };
  /** What the extension walk refused, thrown once the signature verified. */
  readonly afterSignature: unknown;
}

/** A CSR whose signature verified (`ok`) becomes a CertificateRequest; else ERR_CSR_SIGNATURE. */
function accept(p: ReadCsr, ok: boolean): CertificateRequest {
  if (!ok) throw caError('ERR_CSR_SIGNATURE', 'csr: signature does not verify with the CSR public key; re-create the CSR with the matching private key');
  if (p.afterSignature !== undefined) throw p.afterSignature;
  PARSED.add(p.request);
  return p.request;
}

/** Everything parseCsr checks but the self-signature, which the caller verifies with `check`. */
function readCsr(input: string | Uint8Array): ReadCsr {
  const der = toDer(input);
  const r = new DerReader(der);
  const csr = r.expect(0, TAG.SEQUENCE, der.length, 'CertificationRequest');
  if (csr.end !== der.length) r.fail(`${der.length - csr.end} trailing bytes after the CSR`);
  const [info, sigAlg, sig, ...extra] = r.children(csr);
  if (!info || !sigAlg || !sig || extra.length > 0) r.fail('CertificationRequest must have exactly 3 fields');
  if (info.tag !== TAG.SEQUENCE || sigAlg.tag !== TAG.SEQUENCE || sig.tag !== TAG.BIT_STRING) {
    r.fail('CertificationRequest fields have the wrong types');
  }

  const [version, subject, spkiTlv, attributes, ...more] = r.children(info);
  if (!version || !subject || !spkiTlv || more.length > 0) r.fail('CertificationRequestInfo must have 4 fields');
  if (version.tag !== TAG.INTEGER || version.end - version.valueStart !== 1 || der[version.valueStart] !== 0) {
    r.fail('version must be 0 (PKCS#10 v1)');
  }
  checkName(r, subject);
  if (spkiTlv.tag !== TAG.SEQUENCE) r.fail('subjectPKInfo is not a SEQUENCE');
  // RFC 2986 §4.1: attributes is [0] IMPLICIT SET OF Attribute; some encoders omit an empty one.
  if (attributes && attributes.tag !== 0xa0) r.fail('attributes must be [0] IMPLICIT SET');

  const key = readPublicKey(r, spkiTlv);
  // The SPKI is copied into the certificate verbatim, so it must be exactly the canonical DER of the
  // key we checked: extra fields or octets would be signed by the CA into certificates nobody can parse.
  if (!bytesEqual(r.whole(spkiTlv), key.canonicalSpki)) {
    throw caError('ERR_CSR_MALFORMED', 'csr: subjectPublicKeyInfo is not the canonical DER encoding of its key (extra or non-standard fields)');
  }
  const signatureAlgorithm = readSignatureAlgorithm(r, sigAlg, key.kind);
  const signature = bitStringValue(r, sig, 'signature');
  // Read now, reported after the signature check (a request that is not signed by its key is refused as
  // such, whatever else it asks for).
  let sans: RequestedSans = { uri: [], dns: [], other: 0 };
  let afterSignature: unknown;
  try {
    if (attributes) sans = readRequestedExtensions(r, attributes);
  } catch (err) {
    afterSignature = err;
  }
  const parsed: CertificateRequest = {
    spki: r.whole(spkiTlv),
    publicKeyBits: key.bits,
    keyKind: key.kind,
    keyDescription: key.description,
    publicKey: key.publicKey,
    uriSans: sans.uri,
    dnsSans: sans.dns,
    otherSanCount: sans.other,
    signatureAlgorithm,
  };
  return { request: parsed, afterSignature, check: { hash: signatureAlgorithm.hash, data: r.whole(info), key: key.publicKey, signature } };
}

/** Requests that went through parseCsr, so a hand-built object cannot skip the proof of possession. */
const PARSED = new WeakSet<CertificateRequest>();

/** True when `request` was returned by parseCsr. */
export function isParsedRequest(request: CertificateRequest): boolean {
  return PARSED.has(request);
}

function toDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') {
    if (input.length > 0 && input[0] === TAG.SEQUENCE) return checkSize(input);
    input = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  }
  if (input.length > MAX_CSR_BYTES * 2) checkSize({ length: input.length });
  for (const label of PEM_LABELS) {
    const begin = `-----BEGIN ${label}-----`;
    const at = input.indexOf(begin);
    if (at < 0) continue;
    const endAt = input.indexOf(`-----END ${label}-----`, at + begin.length);
    if (endAt < 0) throw caError('ERR_CSR_MALFORMED', `csr: PEM block "${label}" has no END line (truncated?)`);
    const body = input.slice(at + begin.length, endAt);
    // RFC 7468 §3 (laxtextualmsg): base64 and the whitespace W = SP, HTAB, CR, LF, VT, FF only; JavaScript's
    // \s would also let U+FEFF, U+2028 and other Unicode spaces through (found by fuzzing).
    if (!/^[A-Za-z0-9+/= \t\r\n\v\f]*$/.test(body)) throw caError('ERR_CSR_MALFORMED', 'csr: PEM body is not base64');
    return checkSize(Buffer.from(body, 'base64'));
  }
  throw caError('ERR_CSR_MALFORMED', 'csr: not a PKCS#10 request: want PEM "-----BEGIN CERTIFICATE REQUEST-----" or DER');
}

function checkSize<T extends { length: number }>(der: T): T {
  if (der.length > MAX_CSR_BYTES) throw caError('ERR_CSR_MALFORMED', `csr: ${der.length} bytes is larger than the ${MAX_CSR_BYTES}-byte limit`);
  if (der.length === 0) throw caError('ERR_CSR_MALFORMED', 'csr: empty');
  return der;
}

/**
 * RFC 2986 §4.1: the subject is a Name (RFC 5280 §4.1.2.4: SEQUENCE OF SET OF AttributeTypeAndValue).
 * The CA never copies it into a certificate, but a request whose subject no X.509 reader can read is
 * not a PKCS#10 request (found by fuzzing: test/ca/csr.fuzz.test.ts).
 */
function checkName(r: DerReader, name: Tlv): void {
  if (name.tag !== TAG.SEQUENCE) r.fail('subject is not a Name (SEQUENCE)');
  for (const rdn of r.children(name)) {
    const atvs = rdn.tag === TAG.SET ? r.children(rdn) : [];
    if (atvs.length === 0) r.fail('subject has an empty or malformed RelativeDistinguishedName');
    for (const atv of atvs) {
      const [type, value, ...rest] = atv.tag === TAG.SEQUENCE ? r.children(atv) : [];
      if (!type || !value || rest.length > 0 || type.tag !== TAG.OID) r.fail('subject has a malformed AttributeTypeAndValue');
    }
  }
}

function bitStringValue(r: DerReader, t: Tlv, what: string): Uint8Array {
  const v = r.value(t);
  if (v.length < 1 || v[0] !== 0) r.fail(`${what}: BIT STRING must have 0 unused bits`);
  return v.subarray(1);
}

interface RequestKey {
  kind: RequestKeyKind;
  description: string;
  publicKey: KeyObject;
  bits: Uint8Array;
  /** The SubjectPublicKeyInfo DER that this key encodes to (RFC 5480 / RFC 3279), to compare with the CSR's. */
  canonicalSpki: Uint8Array;
}

/** RFC 5480 §2: SPKI prefixes of uncompressed P-256 / P-384 points (algorithm id-ecPublicKey + named curve). */
const EC_SPKI_PREFIX = {
  'P-256': Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  'P-384': Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
} as const;

function readPublicKey(r: DerReader, spki: Tlv): RequestKey {
  const [algId, keyBits] = r.children(spki);
  if (!algId || !keyBits || algId.tag !== TAG.SEQUENCE || keyBits.tag !== TAG.BIT_STRING) r.fail('subjectPKInfo is malformed');
  const [algOid, params] = r.children(algId);
  if (!algOid || algOid.tag !== TAG.OID) r.fail('subjectPKInfo algorithm is malformed');
  const bits = bitStringValue(r, keyBits, 'subjectPublicKey');
  const oid = r.value(algOid);

  if (bytesEqual(oid, OID_EC_PUBLIC_KEY)) {
    if (!params || params.tag !== TAG.OID) {
      throw caError('ERR_CSR_KEY_UNSUPPORTED', 'csr: EC key without a named curve (explicit curve parameters are not accepted); use P-256 or P-384');
    }
    const curve = r.value(params);
    const kind: RequestKeyKind | undefined = bytesEqual(curve, OID_P256) ? 'ec-p256' : bytesEqual(curve, OID_P384) ? 'ec-p384' : undefined;
    if (!kind) throw caError('ERR_CSR_KEY_UNSUPPORTED', 'csr: EC curve is not supported; use P-256 or P-384');
    const crv = kind === 'ec-p256' ? 'P-256' : 'P-384';
    const size = crv === 'P-256' ? 32 : 48;
    // RFC 5480 §2.2: uncompressed points MUST be supported, compressed ones MAY; peers that cannot read
    // them exist, so a workload certificate never carries one.
    if (bits.length !== 1 + 2 * size || bits[0] !== 0x04) {
      throw caError('ERR_CSR_KEY_UNSUPPORTED', `csr: the ${crv} public key must be an uncompressed point (RFC 5480 §2.2)`);
    }
    return { kind, description: `EC ${crv}`, publicKey: importEcPoint(bits, crv), bits, canonicalSpki: Buffer.concat([EC_SPKI_PREFIX[crv], bits]) };
  }
  if (bytesEqual(oid, OID_RSA)) {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: Buffer.from(r.whole(spki)), format: 'der', type: 'spki' });
    } catch (cause) {
      throw caError('ERR_CSR_KEY_UNSUPPORTED', 'csr: RSA public key does not parse', { cause });
    }
    const d = publicKey.asymmetricKeyDetails ?? {};
    const size = d.modulusLength ?? 0;
    if (size < MIN_RSA_BITS) throw caError('ERR_CSR_KEY_WEAK', `csr: RSA-${size} key is too weak; use RSA-${MIN_RSA_BITS} or larger, or EC P-256`);
    if (size > MAX_RSA_BITS) throw caError('ERR_CSR_KEY_UNSUPPORTED', `csr: RSA-${size} key is larger than ${MAX_RSA_BITS} bits`);
    if (d.publicExponent !== 65537n) throw caError('ERR_CSR_KEY_WEAK', 'csr: RSA public exponent must be 65537');
    return { kind: 'rsa', description: `RSA-${size}`, publicKey, bits, canonicalSpki: publicKey.export({ format: 'der', type: 'spki' }) };
  }
  throw caError('ERR_CSR_KEY_UNSUPPORTED', 'csr: key algorithm is not supported; use EC P-256 (recommended), P-384 or RSA >= 2048');
}

function importEcPoint(point: Uint8Array, crv: 'P-256' | 'P-384'): KeyObject {
  const size = crv === 'P-256' ? 32 : 48;
  try {
    // A JWK import of the point costs ~75 µs here against ~135 µs for SPKI DER, whose decoder lookup
    // dominates; both check that the point is on the curve.
    const buf = Buffer.from(point.buffer, point.byteOffset, point.byteLength);
    return createPublicKey({
      key: { kty: 'EC', crv, x: buf.toString('base64url', 1, 1 + size), y: buf.toString('base64url', 1 + size) },
      format: 'jwk',
    });
  } catch (cause) {
    throw caError('ERR_CSR_KEY_UNSUPPORTED', `csr: public key is not a valid ${crv} point`, { cause });
  }
}

function readSignatureAlgorithm(r: DerReader, algId: Tlv, keyKind: RequestKeyKind): SignatureAlgorithm {
  const [oidTlv, params, ...extra] = r.children(algId);
  if (!oidTlv || oidTlv.tag !== TAG.OID) r.fail('signatureAlgorithm is malformed');
  // RFC 5758 §3.2: ECDSA parameters are absent; RFC 4055 §5: RSA PKCS#1 v1.5 ones are NULL (some encoders
  // write NULL for ECDSA too). Anything else is not one of the algorithms below (found by fuzzing).
  if (extra.length > 0 || (params && (params.tag !== TAG.NULL || params.end !== params.valueStart))) {
    r.fail('signatureAlgorithm parameters must be absent or NULL');
  }
  const dotted = decodeOid(r.value(oidTlv));
  const alg = dotted === undefined ? undefined : CSR_SIGNATURE_ALGORITHMS.get(dotted);
  if (!alg) {
    throw caError('ERR_CSR_SIGNATURE_ALGORITHM', `csr: signature algorithm ${dotted ?? '?'} is not accepted; sign with ECDSA or RSA PKCS#1 v1.5 and SHA-256/384/512`);
  }
  const ecSig = alg.oid.startsWith('1.2.840.10045.');
  if (ecSig !== (keyKind !== 'rsa')) {
    throw caError('ERR_CSR_SIGNATURE_ALGORITHM', `csr: signature algorithm ${alg.name} does not match the ${keyKind === 'rsa' ? 'RSA' : 'EC'} key`);
  }
  return alg;
}

const OID_NAMES: ReadonlyMap<string, string> = new Map([...CSR_SIGNATURE_ALGORITHMS.values()].map((a) => [oidValue(a.oid).toString('hex'), a.oid]));

function decodeOid(value: Uint8Array): string | undefined {
  return OID_NAMES.get(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex'));
}

interface RequestedSans {
  uri: string[];
  dns: string[];
  other: number;
}

/** Walks the extensionRequest attribute (RFC 2985 §5.4.2) for SANs and refused CA powers. */
function readRequestedExtensions(r: DerReader, attributes: Tlv): RequestedSans {
  const out: RequestedSans = { uri: [], dns: [], other: 0 };
  let seen = false;
  for (const attr of r.children(attributes)) {
    if (attr.tag !== TAG.SEQUENCE) r.fail('attribute is not a SEQUENCE');
    const [type, values] = r.children(attr);
    if (!type || !values || type.tag !== TAG.OID || values.tag !== TAG.SET) r.fail('attribute is malformed');
    if (!bytesEqual(r.value(type), OID_EXTENSION_REQUEST)) continue; // e.g. challengePassword: no meaning here
    if (seen) r.fail('more than one extensionRequest attribute');
    seen = true;
    const sets = r.children(values);
    if (sets.length !== 1 || sets[0]!.tag !== TAG.SEQUENCE) r.fail('extensionRequest must hold one Extensions value');
    for (const ext of r.children(sets[0]!)) readExtension(r, ext, out);
  }
  return out;
}

function readExtension(r: DerReader, ext: Tlv, out: RequestedSans): void {
  if (ext.tag !== TAG.SEQUENCE) r.fail('extension is not a SEQUENCE');
  const parts = r.children(ext);
  const id = parts[0];
  const value = parts[parts.length - 1];
  if (!id || !value || id.tag !== TAG.OID || value.tag !== TAG.OCTET_STRING || parts.length > 3) r.fail('extension is malformed');
  const oid = r.value(id);
  if (bytesEqual(oid, OID_SAN)) {
    const names = r.read(value.valueStart, value.end);
    if (names.tag !== TAG.SEQUENCE || names.end !== value.end) r.fail('subjectAltName is malformed');
    for (const gn of r.children(names)) {
      // RFC 5280 §4.2.1.6 GeneralName: [6] uniformResourceIdentifier, [2] dNSName (IMPLICIT IA5String).
      const text = () => Buffer.from(r.value(gn)).toString('latin1');
      if (gn.tag === 0x86) out.uri.push(text());
      else if (gn.tag === 0x82) out.dns.push(text());
      else out.other++;
    }
  } else if (bytesEqual(oid, OID_BASIC_CONSTRAINTS)) {
    const bc = r.read(value.valueStart, value.end);
    if (bc.tag !== TAG.SEQUENCE) r.fail('basicConstraints is malformed');
    const first = r.children(bc)[0];
    // DER omits cA when FALSE (X.690 §11.5), so a present BOOLEAN TRUE is the only way to ask for it.
    if (first && first.tag === TAG.BOOLEAN && r.value(first)[0] !== 0) {
      throw caError('ERR_CSR_CA_REQUESTED', 'csr: requests basicConstraints CA:true; workload certificates are never CAs, remove the extension');
    }
  } else if (bytesEqual(oid, OID_KEY_USAGE)) {
    const ku = r.read(value.valueStart, value.end);
    if (ku.tag !== TAG.BIT_STRING) r.fail('keyUsage is malformed');
    const v = r.value(ku);
    // RFC 5280 §4.2.1.3: keyCertSign is bit 5 (0x04) and cRLSign bit 6 (0x02) of the first octet.
    if (v.length >= 2 && (v[1]! & 0x06) !== 0) {
      throw caError('ERR_CSR_KEY_USAGE', 'csr: requests keyCertSign or cRLSign key usage, which a workload certificate may not have');
    }
  }
}

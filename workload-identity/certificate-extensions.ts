/**
 * Reading one extension of an X.509 certificate from its DER (RFC 5280 §4.1, X.690 §10), for code that
 * must not load an ASN.1 library (the agent, docs/agent.md "Memory"). The walk is strict: a length
 * that runs past its container, an indefinite or non-minimal length, or a structure that is not a
 * certificate ends it with `undefined`, never with a value read from the wrong place.
 */

interface Tlv {
  readonly tag: number;
  readonly valueStart: number;
  readonly end: number;
}

/** The TLV at `at`, inside [at, limit); undefined when it is not well-formed DER. */
function tlvAt(b: Uint8Array, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let len = b[at + 1]!;
  let valueStart = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || valueStart + n > limit || b[valueStart] === 0) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[valueStart + i]!;
    if (len < 0x80) return undefined;
    valueStart += n;
  }
  const end = valueStart + len;
  return end <= limit ? { tag, valueStart, end } : undefined;
}

/** The children of a constructed TLV; undefined when they do not fill it exactly. */
function childrenOf(b: Uint8Array, parent: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  for (let at = parent.valueStart; at < parent.end; ) {
    const t = tlvAt(b, at, parent.end);
    if (!t) return undefined;
    out.push(t);
    at = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const OID = 0x06;
const BOOLEAN = 0x01;
const OCTET_STRING = 0x04;
/** [3] EXPLICIT, constructed: the extensions of a v3 TBSCertificate. */
const EXTENSIONS = 0xa3;
/** [0] IMPLICIT OCTET STRING: keyIdentifier of AuthorityKeyIdentifier. */
const KEY_IDENTIFIER = 0x80;

/** 2.5.29.35, id-ce-authorityKeyIdentifier, as its DER content octets. */
const AKI_OID = Uint8Array.of(0x55, 0x1d, 0x23);

/** The value (extnValue's octets) of the extension `oid` (DER content octets), or undefined. */
function extensionValue(der: Uint8Array, oid: Uint8Array): Uint8Array | undefined {
  const cert = tlvAt(der, 0, der.length);
  if (!cert || cert.tag !== SEQUENCE || cert.end !== der.length) return undefined;
  const tbs = tlvAt(der, cert.valueStart, cert.end);
  if (!tbs || tbs.tag !== SEQUENCE) return undefined;
  const fields = childrenOf(der, tbs);
  const exts = fields?.find((f) => f.tag === EXTENSIONS);
  if (!exts) return undefined;
  const list = childrenOf(der, exts);
  if (list?.length !== 1 || list[0]!.tag !== SEQUENCE) return undefined;
  for (const ext of childrenOf(der, list[0]!) ?? []) {
    const parts = ext.tag === SEQUENCE ? childrenOf(der, ext) : undefined;
    if (!parts || parts.length < 2 || parts.length > 3 || parts[0]!.tag !== OID) continue;
    const id = der.subarray(parts[0]!.valueStart, parts[0]!.end);
    if (id.length !== oid.length || !id.every((x, i) => x === oid[i])) continue;
    const value = parts[parts.length - 1]!;
    if (value.tag !== OCTET_STRING || (parts.length === 3 && parts[1]!.tag !== BOOLEAN)) return undefined;
    return der.subarray(value.valueStart, value.end);
  }
  return undefined;
}

/**
 * The keyIdentifier of a certificate's authority key identifier extension (RFC 5280 §4.2.1.1), in
 * lowercase hex: which CA key signed it. Undefined when the certificate has none, or is not DER.
 *
 * @example authorityKeyIdOf(leaf.raw) === issuerSubjectKeyId
 */
export function authorityKeyIdOf(der: Uint8Array): string | undefined {
  const v = extensionValue(der, AKI_OID);
  if (!v) return undefined;
  const aki = tlvAt(v, 0, v.length);
  if (!aki || aki.tag !== SEQUENCE || aki.end !== v.length) return undefined;
  const first = childrenOf(v, aki)?.[0];
  return first?.tag === KEY_IDENTIFIER ? Buffer.from(v.subarray(first.valueStart, first.end)).toString('hex') : undefined;
}

import { ObjectIdentifier } from 'asn1js';
import { caError, type CaErrorCode } from './errors.js';

/**
 * A minimal DER reader and writer for the issuance hot path only. Measured on this machine, parsing a
 * CSR with @peculiar/asn1-csr costs ~110 µs and re-serialising its CertificationRequestInfo ~100 µs,
 * more than verifying and signing together; this reader returns views into the original bytes instead.
 * Everything off the hot path (roots, intermediates, inspection) uses @peculiar/asn1-* and
 * @peculiar/x509, and the tests cross-check this code against them.
 */

/** One TLV: `tag` is the identifier octet; the value is `bytes.subarray(valueStart, end)`. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads DER with strict rules (X.690 §10): definite, minimal lengths; low tag numbers only. */
export class DerReader {
  constructor(
    readonly bytes: Uint8Array,
    private readonly code: CaErrorCode = 'ERR_CSR_MALFORMED',
    private readonly what = 'csr',
  ) {}

  fail(detail: string): never {
    throw caError(this.code, `${this.what}: malformed DER: ${detail}`);
  }

  /** Input that ends before its own lengths say it should: cut off in transit or by a buffer limit. */
  private truncated(detail: string): never {
    const code = this.code === 'ERR_CSR_MALFORMED' ? 'ERR_CSR_TRUNCATED' : this.code;
    throw caError(code, `${this.what}: truncated DER: ${detail}; send the whole request`);
  }

  /** Reads the TLV at `offset`, which must end at or before `limit`. */
  read(offset: number, limit: number = this.bytes.length): Tlv {
    const b = this.bytes;
    if (offset + 2 > limit) limit === this.bytes.length ? this.truncated(`ends at byte ${limit}`) : this.fail(`element at byte ${offset} is cut off by its container`);
    const tag = b[offset]!;
    if ((tag & 0x1f) === 0x1f) this.fail(`high tag number at byte ${offset}`);
    let len = b[offset + 1]!;
    let valueStart = offset + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0) this.fail(`indefinite length at byte ${offset}`);
      if (n > 4) this.fail(`length of ${n} octets at byte ${offset}`);
      if (valueStart + n > limit)
        limit === this.bytes.length ? this.truncated(`length at byte ${offset} is cut off`) : this.fail(`length at byte ${offset} runs past its container`);
      if (b[valueStart] === 0) this.fail(`non-minimal length at byte ${offset}`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[valueStart + i]!;
      if (len < 0x80) this.fail(`non-minimal length at byte ${offset}`);
      valueStart += n;
    }
    const end = valueStart + len;
    if (end > limit)
      limit === this.bytes.length
        ? this.truncated(`element at byte ${offset} needs ${end} bytes, got ${limit}`)
        : this.fail(`element at byte ${offset} runs past its container (${end} > ${limit})`);
    return { tag, start: offset, valueStart, end };
  }

  /** Reads the TLV at `offset` and requires its tag. */
  expect(offset: number, tag: number, limit: number = this.bytes.length, name = 'element'): Tlv {
    const t = this.read(offset, limit);
    if (t.tag !== tag) this.fail(`${name}: tag 0x${t.tag.toString(16)} at byte ${offset}, want 0x${tag.toString(16)}`);
    return t;
  }

  /** The children of a constructed TLV, in order; they must fill it exactly. */
  children(parent: Tlv): Tlv[] {
    const out: Tlv[] = [];
    let at = parent.valueStart;
    while (at < parent.end) {
      const t = this.read(at, parent.end);
      out.push(t);
      at = t.end;
    }
    return out;
  }

  value(t: Tlv): Uint8Array {
    return this.bytes.subarray(t.valueStart, t.end);
  }

  whole(t: Tlv): Uint8Array {
    return this.bytes.subarray(t.start, t.end);
  }
}

/** Octets of a DER length (X.690 §8.1.3, definite form, minimal): 1 below 128, else 1 + the octets of `len`. */
function lengthSize(len: number): number {
  if (len < 0x80) return 1;
  let n = 1;
  for (let v = len; v > 0xff; v = Math.floor(v / 256)) n++;
  return 1 + n;
}

/**
 * One TLV around already-encoded content.
 *
 * @example tlv(0x30, tlv(0x86, Buffer.from('spiffe://td/x'))) // GeneralNames with one URI
 */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  let len = 0;
  for (const c of content) len += c.length;
  // Written in place (no arrays per call: a leaf takes a dozen of these on the CA's request path).
  const head = lengthSize(len);
  const out = Buffer.allocUnsafe(1 + head + len);
  out[0] = tag;
  if (head === 1) out[1] = len;
  else {
    out[1] = 0x80 | (head - 1);
    for (let i = head, v = len; i >= 2; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  }
  let at = 1 + head;
  for (const c of content) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** DER of an OBJECT IDENTIFIER value (without tag/length), for comparing OIDs by bytes on the hot path. */
export function oidValue(dotted: string): Buffer {
  const der = Buffer.from(new ObjectIdentifier({ value: dotted }).toBER(false));
  return der.subarray(2); // every OID we compare is shorter than 128 bytes: one length octet
}

/** Same bytes? (Buffer.equals without allocating a Buffer view.) */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

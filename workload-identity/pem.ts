/**
 * PEM (RFC 7468), the one codec every folder uses for certificates and keys as text.
 */

/**
 * PEM-encodes DER (RFC 7468 §2: 64-character lines).
 *
 * @example pemEncode(certDer, 'CERTIFICATE')
 */
export function pemEncode(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/**
 * Every PEM block with `label` in `text`, decoded, in order. Text outside blocks (comments, openssl's
 * `subject=` lines) is ignored, as OpenSSL does. A block whose body is not base64 throws a TypeError
 * naming the label (callers turn it into their module's coded error).
 *
 * @example pemDecode(bundlePem, 'CERTIFICATE') // [der, der]
 */
export function pemDecode(text: string, label: string): Buffer[] {
  const out: Buffer[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, 'g');
  for (const m of text.matchAll(re)) {
    const body = m[1]!;
    // ASCII whitespace only (RFC 7468 §3), as the CSR reader: \s would let U+FEFF, U+2028 and the like through.
    if (!/^[A-Za-z0-9+/= \t\r\n\v\f]*$/.test(body)) throw new TypeError(`a ${label} PEM block is not base64`);
    out.push(Buffer.from(body, 'base64'));
  }
  return out;
}

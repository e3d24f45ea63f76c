import { caError, type CaErrorCode } from './errors.js';

/**
 * PEM-encodes DER (RFC 7468 §2: 64-character lines).
 *
 * @example derToPem(certDer, 'CERTIFICATE')
 */
export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/**
 * Every PEM block with `label` in `text`, decoded, in order. Text outside blocks (comments, openssl's
 * `subject=` lines) is ignored, as OpenSSL does.
 */
export function pemBlocks(text: string, label: string, onError: { code: CaErrorCode; what: string }): Buffer[] {
  const out: Buffer[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, 'g');
  for (const m of text.matchAll(re)) {
    const body = m[1]!;
    if (!/^[A-Za-z0-9+/=\s]*$/.test(body)) throw caError(onError.code, `${onError.what}: a ${label} PEM block is not base64`);
    out.push(Buffer.from(body, 'base64'));
  }
  return out;
}

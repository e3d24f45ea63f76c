import { caError } from '../errors.js';

/** The parts of an RFC 7512 `pkcs11:` URI that name a CA key. */
export interface Pkcs11KeyUri {
  /** Token label (RFC 7512 §2.3 `token`). */
  readonly token?: string;
  /** Object label, CKA_LABEL (`object`). */
  readonly object?: string;
  /** CKA_ID bytes (`id`). */
  readonly id?: Buffer;
  /** Object class (`type`): a CA key URI names the private key. */
  readonly type?: string;
}

// RFC 3986 unreserved characters never need encoding; everything else is written as %XX (RFC 7512 §2.3
// allows encoding any character, and a label with ';', '?' or '%' then stays one attribute).
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function encode(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Writes the URI of a private key: token label, object label and CKA_ID, never a PIN or module path.
 *
 * @example formatPkcs11KeyUri({ token: 'castellan', object: 'root 1', id }) // 'pkcs11:token=castellan;object=root%201;id=%0A%1B...;type=private'
 */
export function formatPkcs11KeyUri(key: { token: string; object: string; id: Uint8Array }): string {
  // The id is binary: every byte percent-encoded (RFC 7512 §2.3, `id` attribute).
  const id = [...key.id].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  return `pkcs11:token=${encode(key.token)};object=${encode(key.object)};id=${id};type=private`;
}

function decode(text: string, uri: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (text[i] === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw malformed(uri, `"${text.slice(i, i + 3)}" is not a percent-encoded byte`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x7e || c < 0x21) {
      throw malformed(uri, 'characters outside printable ASCII must be percent-encoded');
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

function malformed(uri: string, why: string): Error {
  // The URI may carry a pin-value: never echo it.
  const shown = uri.includes('pin-value') ? 'pkcs11:…' : JSON.stringify(uri);
  return caError('ERR_KEY_MATERIAL', `pkcs11: key URI ${shown} is not a valid RFC 7512 URI: ${why}`);
}

/**
 * Reads the key-naming attributes of a `pkcs11:` URI (RFC 7512 §2.3). Query attributes (module-path,
 * pin-source) are ignored except `pin-value`, which is refused: PINs do not belong in stored key material.
 *
 * @example parsePkcs11KeyUri('pkcs11:token=castellan;id=%01%02;type=private').id // <Buffer 01 02>
 */
export function parsePkcs11KeyUri(uri: string): Pkcs11KeyUri {
  if (!/^pkcs11:/i.test(uri)) throw malformed(uri, 'it does not start with "pkcs11:"');
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  if (query.split('&').some((a) => a.toLowerCase().startsWith('pin-value='))) {
    throw caError('ERR_KEY_MATERIAL', 'pkcs11: a key URI with a pin-value is refused; give the PIN with a PIN file or environment variable instead');
  }
  const seen = new Map<string, Buffer>();
  for (const attr of path === '' ? [] : path.split(';')) {
    const eq = attr.indexOf('=');
    if (eq <= 0) throw malformed(uri, `path attribute "${attr}" has no name=value`);
    const name = attr.slice(0, eq).toLowerCase();
    if (seen.has(name)) throw malformed(uri, `attribute "${name}" appears twice`); // RFC 7512 §2.3
    seen.set(name, decode(attr.slice(eq + 1), uri));
  }
  const text = (name: string) => {
    const v = seen.get(name);
    if (v === undefined) return undefined;
    const s = v.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(v)) throw malformed(uri, `attribute "${name}" is not UTF-8`);
    return s;
  };
  const token = text('token');
  const object = text('object');
  const type = text('type');
  const id = seen.get('id');
  return Object.freeze({
    ...(token !== undefined ? { token } : {}),
    ...(object !== undefined ? { object } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(type !== undefined ? { type } : {}),
  });
}

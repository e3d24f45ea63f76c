import { constants, verify, type KeyObject } from 'node:crypto';
import { CastellanError } from './errors.js';
import type { JwtAuthority } from './spiffe-bundle.js';
import { SpiffeId, type TrustDomain } from './spiffe-id.js';

/** Every JWT-SVID rule a token can break; one code per rule. */
export type JwtSvidErrorCode =
  | 'ERR_JWT_SVID_MALFORMED'
  | 'ERR_JWT_SVID_HEADER'
  | 'ERR_JWT_SVID_ALGORITHM'
  | 'ERR_JWT_SVID_SUBJECT'
  | 'ERR_JWT_SVID_AUDIENCE'
  | 'ERR_JWT_SVID_EXPIRED'
  | 'ERR_JWT_SVID_NOT_YET_VALID'
  | 'ERR_JWT_SVID_NO_BUNDLE'
  | 'ERR_JWT_SVID_UNKNOWN_KEY'
  | 'ERR_JWT_SVID_SIGNATURE';

/** JWT-SVID §2.1: the only `alg` values a JWT-SVID may carry (RFC 7518 §3.3, §3.4, §3.5). */
export const JWT_SVID_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type JwtSvidAlgorithm = (typeof JWT_SVID_ALGORITHMS)[number];

/** Tokens longer than this are refused before any decoding. */
export const MAX_JWT_SVID_BYTES = 64 * 1024;
/** How far `nbf`/`iat` may lie in the future (clock skew between trust domains), ms. */
const FUTURE_LEEWAY_MS = 60_000;

/** A JWT-SVID whose signature, subject, audience and lifetime were checked. */
export interface ValidatedJwtSvid {
  readonly spiffeId: SpiffeId;
  /** Every claim of the payload, as sent. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly audience: readonly string[];
  readonly expiresAt: Date;
  readonly keyId: string;
}

const fail = (code: JwtSvidErrorCode, message: string, cause?: unknown) => new CastellanError<JwtSvidErrorCode>(code, `jwtsvid: ${message}`, cause === undefined ? {} : { cause });

/** Base64url of a JSON value (RFC 7515 §2: BASE64URL(UTF8(JSON))). */
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/**
 * The JWS signing input of a JWT-SVID (RFC 7515 §5.1): base64url(header) '.' base64url(claims). The
 * header carries only `alg`, `kid` and `typ` (JWT-SVID §2: no other header is allowed).
 *
 * @example const input = jwsSigningInput({ alg: 'ES256', kid, typ: 'JWT' }, { sub, aud, exp, iat });
 */
export function jwsSigningInput(header: { alg: JwtSvidAlgorithm; kid: string; typ?: 'JWT' }, claims: Record<string, unknown>): string {
  return `${b64json(header)}.${b64json(claims)}`;
}

/** The JWS algorithm for a public key: ES256/ES384/ES512 by curve, RS256 for RSA (JWT-SVID §2.1). */
export function jwsAlgorithmFor(key: KeyObject): JwtSvidAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1') return 'ES256';
  if (curve === 'secp384r1') return 'ES384';
  if (curve === 'secp521r1') return 'ES512';
  throw new TypeError(`jwsAlgorithmFor: no JWT-SVID algorithm for a ${key.asymmetricKeyType ?? 'unknown'} key`);
}

/**
 * Reads a JWT-SVID's header and claims without verifying its signature (to find its trust domain, or to
 * check what a CA returned). Structure, header and subject rules are checked.
 */
export function decodeJwtSvid(token: string): {
  header: { alg: JwtSvidAlgorithm; kid: string };
  claims: Record<string, unknown>;
  spiffeId: SpiffeId;
  signingInput: string;
  signature: Buffer;
} {
  if (typeof token !== 'string' || token.length === 0) throw fail('ERR_JWT_SVID_MALFORMED', 'no token');
  if (token.length > MAX_JWT_SVID_BYTES) throw fail('ERR_JWT_SVID_MALFORMED', `token of ${token.length} bytes, more than ${MAX_JWT_SVID_BYTES}`);
  const parts = token.split('.');
  // JWT-SVID §5.1: JWS Compact Serialization only: three base64url parts (a JWE has five).
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || parts[0] === '' || parts[1] === '' || parts[2] === '') {
    throw fail('ERR_JWT_SVID_MALFORMED', 'not a JWS in compact serialization (three base64url parts)');
  }
  const header = jsonPart(parts[0]!, 'header');
  for (const name of Object.keys(header)) {
    if (name !== 'alg' && name !== 'kid' && name !== 'typ')
      throw fail('ERR_JWT_SVID_HEADER', `header parameter "${name.slice(0, 40)}" is not allowed (JWT-SVID §2: alg, kid, typ only)`);
  }
  const alg = header['alg'];
  if (typeof alg !== 'string' || !(JWT_SVID_ALGORITHMS as readonly string[]).includes(alg)) {
    throw fail('ERR_JWT_SVID_ALGORITHM', `alg ${JSON.stringify(alg)?.slice(0, 40)} is not one of ${JWT_SVID_ALGORITHMS.join(', ')} (JWT-SVID §2.1)`);
  }
  if (header['typ'] !== undefined && header['typ'] !== 'JWT' && header['typ'] !== 'JOSE') throw fail('ERR_JWT_SVID_HEADER', 'typ must be JWT or JOSE (JWT-SVID §2.3)');
  const kid = header['kid'];
  // JWT-SVID §2.2 makes kid optional, but §6.1 requires every bundle key to have one: without it no key can be chosen.
  if (typeof kid !== 'string' || kid === '') throw fail('ERR_JWT_SVID_HEADER', 'the header has no kid, so no key of the bundle can verify it');
  const claims = jsonPart(parts[1]!, 'payload');
  const sub = claims['sub'];
  if (typeof sub !== 'string') throw fail('ERR_JWT_SVID_SUBJECT', 'the token has no sub claim (JWT-SVID §3.1)');
  let spiffeId: SpiffeId;
  try {
    spiffeId = SpiffeId.parse(sub);
  } catch (cause) {
    throw fail('ERR_JWT_SVID_SUBJECT', `sub ${JSON.stringify(sub.slice(0, 80))} is not a SPIFFE ID`, cause);
  }
  return {
    header: { alg: alg as JwtSvidAlgorithm, kid },
    claims,
    spiffeId,
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2]!, 'base64url'),
  };
}

/**
 * Validates a JWT-SVID (JWT-SVID §4, Appendix A): structure and header, the signature with the key its
 * `kid` names in the bundle of the subject's trust domain, `aud` containing `audience`, `exp` present and
 * not past, `nbf`/`iat` not in the future beyond a minute of clock skew.
 *
 * @example const v = validateJwtSvid(token, 'spiffe://example.org/api', (td) => bundles.get(td.name), new Date());
 */
export function validateJwtSvid(token: string, audience: string, keysFor: (td: TrustDomain) => readonly JwtAuthority[] | undefined, now: Date): ValidatedJwtSvid {
  const d = decodeJwtSvid(token);
  const keys = keysFor(d.spiffeId.trustDomain);
  if (keys === undefined) throw fail('ERR_JWT_SVID_NO_BUNDLE', `no bundle for trust domain ${d.spiffeId.trustDomain.name}: the token is untrusted (SPIFFE Workload API §6.3)`);
  const key = keys.find((k) => k.keyId === d.header.kid);
  if (!key) throw fail('ERR_JWT_SVID_UNKNOWN_KEY', `no JWT authority ${JSON.stringify(d.header.kid.slice(0, 80))} in the bundle of ${d.spiffeId.trustDomain.name}`);
  if (!verifySignature(d.header.alg, key.publicKey, d.signingInput, d.signature)) {
    throw fail('ERR_JWT_SVID_SIGNATURE', `the signature does not verify with key ${d.header.kid} of ${d.spiffeId.trustDomain.name}`);
  }
  const c = d.claims;
  const aud = typeof c['aud'] === 'string' ? [c['aud']] : Array.isArray(c['aud']) && c['aud'].every((a) => typeof a === 'string') ? (c['aud'] as string[]) : undefined;
  if (!aud || aud.length === 0) throw fail('ERR_JWT_SVID_AUDIENCE', 'the token has no aud claim (JWT-SVID §3.2)');
  if (!aud.includes(audience)) throw fail('ERR_JWT_SVID_AUDIENCE', `the token is not for audience ${JSON.stringify(audience.slice(0, 200))}`);
  const exp = c['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw fail('ERR_JWT_SVID_EXPIRED', 'the token has no exp claim (JWT-SVID §3.3)');
  const t = now.getTime();
  if (exp * 1000 <= t) throw fail('ERR_JWT_SVID_EXPIRED', `the token expired at ${new Date(exp * 1000).toISOString()}`);
  for (const name of ['nbf', 'iat'] as const) {
    const v = c[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw fail('ERR_JWT_SVID_MALFORMED', `${name} is not a number`);
    if (v * 1000 > t + FUTURE_LEEWAY_MS) throw fail('ERR_JWT_SVID_NOT_YET_VALID', `${name} ${new Date(v * 1000).toISOString()} is in the future`);
  }
  return Object.freeze({ spiffeId: d.spiffeId, claims: c, audience: Object.freeze([...aud]), expiresAt: new Date(exp * 1000), keyId: d.header.kid });
}

/** RFC 7518 §3: the hash, the key type and the signature format of each algorithm. */
function verifySignature(alg: JwtSvidAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  const hash = `sha${alg.slice(2)}`;
  const family = alg.slice(0, 2);
  try {
    if (family === 'ES') {
      const curve = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }[alg as 'ES256'];
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== curve) return false;
      // RFC 7518 §3.4: R || S, each as long as the curve order.
      return verify(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    if (key.asymmetricKeyType !== 'rsa') return false;
    if (family === 'PS') return verify(hash, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }, signature);
    return verify(hash, Buffer.from(input), key, signature);
  } catch {
    return false;
  }
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (cause) {
    throw fail('ERR_JWT_SVID_MALFORMED', `the ${what} is not base64url JSON`, cause);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail('ERR_JWT_SVID_MALFORMED', `the ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

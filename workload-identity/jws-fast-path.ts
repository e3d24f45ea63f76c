import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { JSONWebKeySet, JWTPayload } from 'jose';

/**
 * A fast way to ACCEPT the service-account tokens a CA sees all day (ES256, ES384, RS256 with a `kid`
 * naming one key of the set), with the signature checked on the libuv thread pool (Node's callback
 * `crypto.verify`, docs/architecture.md §4) instead of WebCrypto. It never refuses: any token it is not
 * sure about (another algorithm, no or several matching keys, a bad signature, a claim that would fail,
 * anything unusual in the header) returns undefined and goes through jose's `jwtVerify` as before, so
 * every refusal, its reason and its wording are jose's. What it accepts, jose accepts too: the checks
 * below are the ones jose makes for the options JwksAuthenticator passes (RFC 7515 §5.2, RFC 7519 §7.2:
 * iss, aud, exp, nbf, iat type, sub present; RSA keys of 2048 bits or more).
 */
export interface JwsFastPathOptions {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly toleranceSeconds: number;
}

const HASH = { ES256: 'sha256', ES384: 'sha384', RS256: 'sha256' } as const;
type FastAlg = keyof typeof HASH;
const SIGNATURE_LENGTH: Partial<Record<FastAlg, number>> = { ES256: 64, ES384: 96 };
const B64URL = /^[A-Za-z0-9_-]+$/;

interface FastKey {
  readonly alg: FastAlg;
  readonly key: KeyObject;
}

/** The keys of a JWK set the fast path may use, by kid: one usable key per kid and algorithm, or none. */
export function fastKeys(jwks: JSONWebKeySet): ReadonlyMap<string, FastKey> {
  const byKid = new Map<string, FastKey | null>();
  for (const jwk of jwks.keys) {
    if (typeof jwk.kid !== 'string') continue;
    let alg: FastAlg | undefined;
    if (jwk.kty === 'EC' && jwk.crv === 'P-256') alg = 'ES256';
    else if (jwk.kty === 'EC' && jwk.crv === 'P-384') alg = 'ES384';
    else if (jwk.kty === 'RSA') alg = 'RS256';
    // Only plain signing keys: anything jose might judge differently (key_ops, ext, another alg) is left to it.
    const plain =
      alg !== undefined && (jwk.use === undefined || jwk.use === 'sig') && (jwk.alg === undefined || jwk.alg === alg) && jwk.key_ops === undefined && jwk.ext === undefined;
    let key: KeyObject | undefined;
    if (plain) {
      try {
        key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
        if (key.type !== 'public' || (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)) key = undefined;
      } catch {
        key = undefined;
      }
    }
    // A kid used twice (or by a key the fast path cannot use) is jose's to sort out.
    byKid.set(jwk.kid, byKid.has(jwk.kid) || key === undefined || alg === undefined ? null : { alg, key });
  }
  const out = new Map<string, FastKey>();
  for (const [kid, k] of byKid) if (k) out.set(kid, k);
  return out;
}

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface PlainHeader {
  readonly kid: string;
  readonly alg: string;
}

// Every token of one issuer key carries the same encoded header: its checks are remembered by that
// segment (a handful of issuers and keys; emptied when full, so odd headers cannot make it grow).
const HEADERS = new Map<string, PlainHeader>();
const MAX_HEADERS = 64;

/** `kid` and `alg` of a JWS header (RFC 7515 §4.1) that holds nothing but them and a string `typ`, or undefined. */
function plainHeader(segment: string): PlainHeader | undefined {
  const known = HEADERS.get(segment);
  if (known) return known;
  const header = decodeJson(segment);
  if (!isObject(header) || typeof header.kid !== 'string' || typeof header.alg !== 'string') return undefined;
  for (const name of Object.keys(header)) if (name !== 'alg' && name !== 'kid' && name !== 'typ') return undefined;
  if (header.typ !== undefined && typeof header.typ !== 'string') return undefined;
  if (HEADERS.size >= MAX_HEADERS) HEADERS.clear();
  const plain = Object.freeze({ kid: header.kid, alg: header.alg });
  HEADERS.set(segment, plain);
  return plain;
}

/**
 * The verified claims of `token`, or undefined when the fast path cannot vouch for it (then ask jose).
 *
 * @example const claims = (await fastVerify(token, keys, options, now)) ?? (await jwtVerify(...)).payload;
 */
export async function fastVerify(token: string, keys: ReadonlyMap<string, FastKey>, o: JwsFastPathOptions, now: Date): Promise<JWTPayload | undefined> {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p) && p.length % 4 !== 1)) return undefined;
  const header = plainHeader(parts[0]!);
  if (!header) return undefined;
  const k = keys.get(header.kid);
  if (!k || k.alg !== header.alg || !o.algorithms.includes(k.alg)) return undefined;
  const claims = decodeJson(parts[1]!);
  if (!isObject(claims) || !claimsAcceptable(claims, o, Math.floor(now.getTime() / 1000))) return undefined;
  const signature = Buffer.from(parts[2]!, 'base64url');
  const expected = SIGNATURE_LENGTH[k.alg];
  if (expected !== undefined && signature.length !== expected) return undefined;
  const input = Buffer.from(`${parts[0]}.${parts[1]}`, 'latin1');
  const key = k.alg === 'RS256' ? k.key : { key: k.key, dsaEncoding: 'ieee-p1363' as const };
  const ok = await new Promise<boolean>((resolve) => {
    try {
      verify(HASH[k.alg], input, key, signature, (err, valid) => resolve(!err && valid));
    } catch {
      resolve(false);
    }
  });
  return ok ? (claims as JWTPayload) : undefined;
}

/** The claim checks jose's validateClaimsSet makes for JwksAuthenticator's options, as a yes/no. */
function claimsAcceptable(c: Record<string, unknown>, o: JwsFastPathOptions, now: number): boolean {
  for (const claim of ['iss', 'aud', 'exp', 'sub']) if (!Object.hasOwn(c, claim)) return false;
  if (c.iss !== o.issuer) return false;
  const aud = c.aud;
  if (typeof aud === 'string' ? !o.audiences.includes(aud) : !(Array.isArray(aud) && aud.some((a) => o.audiences.includes(a as string)))) return false;
  if (c.iat !== undefined && typeof c.iat !== 'number') return false;
  if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf > now + o.toleranceSeconds)) return false;
  return typeof c.exp === 'number' && c.exp > now - o.toleranceSeconds;
}

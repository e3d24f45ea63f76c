import { randomBytes } from 'node:crypto';
import { jwsAlgorithmFor, jwsSigningInput, type SpiffeId } from '../workload-identity/index.js';
import { DerReader, TAG } from './der.js';
import { caError } from './errors.js';
import { DEFAULT_JWT_KEY_PUBLISH_LEAD_MS, jwtSigningKey } from './jwt-authorities.js';
import type { CaDirectory, LoadedAuthority } from './load-ca.js';
import type { Signer } from './signer.js';

/** JWT-SVID §7.1 recommends short lifetimes: 5 minutes unless asked otherwise, at most 1 hour. */
export const DEFAULT_JWT_SVID_TTL_MS = 5 * 60_000;
export const DEFAULT_MAX_JWT_SVID_TTL_MS = 60 * 60_000;
/** JWT-SVID §7.2 recommends one audience; a handful is allowed, more is refused. */
export const MAX_JWT_AUDIENCES = 16;
/** Longest audience value, bytes (a URL or SPIFFE ID fits easily). */
export const MAX_JWT_AUDIENCE_BYTES = 512;

export interface JwtSvidIssuerOptions {
  /** The CA as served now (authorities rotate under the issuer). */
  readonly ca: () => Pick<CaDirectory, 'authorities'>;
  /** Lifetime when the caller asks none, ms. Default 5 minutes. */
  readonly defaultTtlMs?: number;
  /** Longest lifetime a caller may ask for, ms; longer is refused. Default 1 hour. */
  readonly maxTtlMs?: number;
  /** See DEFAULT_JWT_KEY_PUBLISH_LEAD_MS. */
  readonly publishLeadMs?: number;
  readonly now?: () => Date;
}

/** A signed JWT-SVID and what the ledger records about it. */
export interface IssuedJwtSvid {
  readonly token: string;
  readonly spiffeId: SpiffeId;
  readonly audience: readonly string[];
  readonly keyId: string;
  readonly algorithm: string;
  /** The slot whose key signed (its intermediate's SKI is the ledger's issuerKeyId). */
  readonly authority: LoadedAuthority;
  /** The `jti` claim, 128 random bits as lowercase hex (the ledger's serial). */
  readonly jti: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/**
 * Checks a requested audience list (JWT-SVID §3.2: at least one value): 1 to MAX_JWT_AUDIENCES
 * non-empty strings of at most MAX_JWT_AUDIENCE_BYTES bytes, no control characters; duplicates
 * are dropped, order kept.
 */
export function checkAudiences(audience: readonly unknown[]): string[] {
  if (audience.length === 0) throw caError('ERR_JWT_AUDIENCE', 'jwtsvid: the request has no audience; JWT-SVID §3.2 requires at least one (the service the token is for)');
  if (audience.length > MAX_JWT_AUDIENCES) {
    throw caError('ERR_JWT_AUDIENCE', `jwtsvid: ${audience.length} audiences, at most ${MAX_JWT_AUDIENCES} are allowed (JWT-SVID §7.2 recommends exactly one)`);
  }
  const out: string[] = [];
  for (const a of audience) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this check is for
    if (typeof a !== 'string' || a === '' || Buffer.byteLength(a) > MAX_JWT_AUDIENCE_BYTES || /[\u0000-\u001f\u007f]/.test(a)) {
      throw caError('ERR_JWT_AUDIENCE', `jwtsvid: every audience must be a non-empty string of at most ${MAX_JWT_AUDIENCE_BYTES} bytes without control characters`);
    }
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

/**
 * Signs JWT-SVIDs (JWT-SVID §2, §3) for an identity the caller has already proved: header `alg`
 * (ES256/ES384 for EC keys, RS256 for RSA), `kid` and `typ: JWT`; claims `sub`, `aud`, `exp`, `iat`,
 * `jti`. The key is the one jwtSigningKey chooses.
 *
 * @example const j = new JwtSvidIssuer({ ca: () => server.directory }).issue(id, ['spiffe://example.org/api']);
 */
export class JwtSvidIssuer {
  private readonly now: () => Date;

  constructor(private readonly o: JwtSvidIssuerOptions) {
    this.now = o.now ?? (() => new Date());
  }

  get maxTtlMs(): number {
    return this.o.maxTtlMs ?? DEFAULT_MAX_JWT_SVID_TTL_MS;
  }

  issue(spiffeId: SpiffeId, audience: readonly unknown[], ttlMs?: number): IssuedJwtSvid {
    const aud = checkAudiences(audience);
    const max = this.maxTtlMs;
    const ttl = ttlMs === undefined || ttlMs === 0 ? (this.o.defaultTtlMs ?? DEFAULT_JWT_SVID_TTL_MS) : ttlMs;
    if (!Number.isFinite(ttl) || ttl < 1000) throw caError('ERR_TTL_INVALID', 'jwtsvid: the requested lifetime must be at least 1 second (0: the default)');
    if (ttl > max)
      throw caError('ERR_TTL_TOO_LONG', `jwtsvid: the requested lifetime ${Math.round(ttl / 1000)}s is longer than the maximum ${Math.round(max / 1000)}s (jwtSvid.maxTtl)`, {
        context: { maxMs: max },
      });
    const now = this.now();
    const key = jwtSigningKey(this.o.ca(), now, this.o.publishLeadMs ?? DEFAULT_JWT_KEY_PUBLISH_LEAD_MS);
    if (!key.ok) throw caError(key.reason === 'no-key' ? 'ERR_JWT_NO_KEY' : 'ERR_JWT_KEY_NOT_PUBLISHED', key.message);
    const alg = jwsAlgorithmFor(key.signer.publicKey);
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + Math.max(1, Math.floor(ttl / 1000));
    const jti = randomBytes(16).toString('hex');
    const input = jwsSigningInput({ alg, kid: key.keyId, typ: 'JWT' }, { sub: spiffeId.toString(), aud, exp, iat, jti });
    const signature = jwsSignature(key.signer, Buffer.from(input));
    return Object.freeze({
      token: `${input}.${signature.toString('base64url')}`,
      spiffeId,
      audience: Object.freeze(aud),
      keyId: key.keyId,
      algorithm: alg,
      authority: key.authority,
      jti,
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date(exp * 1000),
    });
  }
}

/**
 * A JWS signature (RFC 7518 §3.3, §3.4) from a CA Signer: RSA PKCS#1 v1.5 as is; ECDSA converted from
 * the DER the Signer returns to R || S, each as long as the curve order.
 */
function jwsSignature(signer: Signer, input: Buffer): Buffer {
  const sig = signer.sign(input);
  if (signer.keyType !== 'ec-p256' && signer.keyType !== 'ec-p384') return sig;
  const size = signer.keyType === 'ec-p256' ? 32 : 48;
  const r = new DerReader(sig, 'ERR_SIGNER', 'signer');
  const seq = r.expect(0, TAG.SEQUENCE);
  const ints = r.children(seq);
  if (ints.length !== 2 || ints.some((t) => t.tag !== TAG.INTEGER)) r.fail('an ECDSA signature is SEQUENCE { r INTEGER, s INTEGER }');
  return Buffer.concat(ints.map((t) => fixedWidth(r.value(t), size)));
}

function fixedWidth(v: Uint8Array, size: number): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const trimmed = v.subarray(i);
  if (trimmed.length > size) throw caError('ERR_SIGNER', 'signer: an ECDSA signature value is longer than the curve order');
  return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
}

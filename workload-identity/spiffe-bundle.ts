import { createHash, createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CastellanError } from './errors.js';
import { SpiffeId, TrustDomain } from './spiffe-id.js';

/** Stable codes of a SPIFFE bundle that cannot be used (SPIFFE Trust Domain and Bundle §4). */
export type SpiffeBundleErrorCode = 'ERR_BUNDLE_TOO_LARGE' | 'ERR_BUNDLE_MALFORMED' | 'ERR_BUNDLE_NO_KEYS' | 'ERR_BUNDLE_TRUST_DOMAIN';

/** A JWT-SVID signing key of a trust domain (JWT-SVID §6.1: a JWK with `use` = `jwt-svid` and a `kid`). */
export interface JwtAuthority {
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

/**
 * One trust domain's SPIFFE bundle (SPIFFE Trust Domain and Bundle §4): its X.509 roots and its JWT-SVID
 * keys, with the publisher's sequence and refresh hint. Immutable.
 */
export interface SpiffeBundle {
  readonly trustDomain: TrustDomain;
  /** X509-SVID roots, DER, in the document's order (X509-SVID §6.1: one certificate per JWK). */
  readonly x509Authorities: readonly Buffer[];
  readonly jwtAuthorities: readonly JwtAuthority[];
  /** `spiffe_sequence` (§4.1.1), when the publisher set one. */
  readonly sequence?: number;
  /** `spiffe_refresh_hint` (§4.1.2), seconds, when set. */
  readonly refreshHintSeconds?: number;
}

/** Bounds on what a bundle document may hold, so a hostile endpoint cannot exhaust memory or CPU. */
export const MAX_BUNDLE_BYTES = 1024 * 1024;
export const MAX_BUNDLE_KEYS = 256;
/** RFC 7517 sets no bound on `kid`; keys with longer ids are refused. */
const MAX_KEY_ID_LENGTH = 256;

const bad = (message: string, cause?: unknown) => new CastellanError<SpiffeBundleErrorCode>('ERR_BUNDLE_MALFORMED', `bundle: ${message}`, cause === undefined ? {} : { cause });

/**
 * Parses a SPIFFE bundle document for `trustDomain`. Keys of unknown `use` or `kty` are ignored (§4.1.3,
 * §4.2.1, §4.2.2); an X.509 root that names another trust domain in its URI SAN is refused (the bundle
 * would vouch for identities it does not own); a bundle without a usable key is refused unless
 * `allowEmpty` (§4.1.3 lets a publisher revoke every key that way: Castellan's federation keeps the
 * last good bundle instead and says so).
 *
 * @example const b = parseSpiffeBundle(TrustDomain.of('spire.test'), await res.text());
 */
export function parseSpiffeBundle(trustDomain: TrustDomain, text: string | Uint8Array, o: { allowEmpty?: boolean } = {}): SpiffeBundle {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > MAX_BUNDLE_BYTES)
    throw new CastellanError<SpiffeBundleErrorCode>('ERR_BUNDLE_TOO_LARGE', `bundle: ${size} bytes, more than the ${MAX_BUNDLE_BYTES} a SPIFFE bundle may have here`);
  let doc: unknown;
  try {
    doc = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch (cause) {
    throw bad('not JSON (want a JWK Set, SPIFFE Trust Domain and Bundle §4)', cause);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not a JSON object (want a JWK Set)');
  const d = doc as Record<string, unknown>;
  if (!Array.isArray(d['keys'])) throw bad('has no "keys" array (SPIFFE Trust Domain and Bundle §4.1.3: it MUST be present)');
  const keys = d['keys'] as unknown[];
  if (keys.length > MAX_BUNDLE_KEYS) throw bad(`has ${keys.length} keys, more than ${MAX_BUNDLE_KEYS}`);
  const sequence = optionalInteger(d['spiffe_sequence'], 'spiffe_sequence');
  const refreshHintSeconds = optionalInteger(d['spiffe_refresh_hint'], 'spiffe_refresh_hint');
  const x509: Buffer[] = [];
  const jwt: JwtAuthority[] = [];
  keys.forEach((k, i) => {
    if (k === null || typeof k !== 'object' || Array.isArray(k)) throw bad(`key ${i} is not a JSON object`);
    const jwk = k as Record<string, unknown>;
    if (jwk['use'] === 'x509-svid') {
      const x5c = jwk['x5c'];
      // X509-SVID §6.1: exactly one CA certificate per entry.
      if (!Array.isArray(x5c) || x5c.length !== 1 || typeof x5c[0] !== 'string') throw bad(`x509-svid key ${i} must have exactly one certificate in x5c`);
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(Buffer.from(x5c[0], 'base64'));
      } catch (cause) {
        throw bad(`x509-svid key ${i}: x5c is not a DER certificate`, cause);
      }
      if (!cert.ca) throw bad(`x509-svid key ${i} is not a CA certificate (basicConstraints CA:true)`);
      const named = certificateTrustDomain(cert);
      if (named !== undefined && named !== trustDomain.name) {
        throw new CastellanError<SpiffeBundleErrorCode>('ERR_BUNDLE_TRUST_DOMAIN', `bundle: x509-svid key ${i} is a root of trust domain ${named}, not ${trustDomain.name}`, {
          context: { named, expected: trustDomain.name },
        });
      }
      x509.push(Buffer.from(cert.raw));
    } else if (jwk['use'] === 'jwt-svid') {
      const kid = jwk['kid'];
      // JWT-SVID §6.1: the kid MUST be set.
      if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KEY_ID_LENGTH) throw bad(`jwt-svid key ${i} has no kid (or one longer than ${MAX_KEY_ID_LENGTH})`);
      if (jwt.some((a) => a.keyId === kid)) throw bad(`jwt-svid key id ${kid} appears twice`);
      if (jwk['kty'] !== 'EC' && jwk['kty'] !== 'RSA') return; // §4.2.1: unknown key types are ignored
      let publicKey: KeyObject;
      try {
        publicKey = createPublicKey({ key: publicJwkFields(jwk), format: 'jwk' });
      } catch (cause) {
        throw bad(`jwt-svid key ${kid} is not a valid ${String(jwk['kty'])} public key`, cause);
      }
      if (publicKey.asymmetricKeyType === 'rsa' && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw bad(`jwt-svid key ${kid} is RSA with fewer than 2048 bits`);
      jwt.push(Object.freeze({ keyId: kid, publicKey }));
    }
    // Any other use (or none) is ignored: §4.2.2.
  });
  if (!o.allowEmpty && x509.length === 0 && jwt.length === 0) {
    throw new CastellanError<SpiffeBundleErrorCode>('ERR_BUNDLE_NO_KEYS', `bundle: the bundle of ${trustDomain.name} holds no usable key`);
  }
  return Object.freeze({
    trustDomain,
    x509Authorities: Object.freeze(x509),
    jwtAuthorities: Object.freeze(jwt),
    ...(sequence !== undefined ? { sequence } : {}),
    ...(refreshHintSeconds !== undefined ? { refreshHintSeconds } : {}),
  });
}

/**
 * The SPIFFE bundle document of `b` (SPIFFE Trust Domain and Bundle §4; X509-SVID §6.1: `x5c` and no
 * `kid`; JWT-SVID §6.1: `kid`), keys in the bundle's order, stable JSON.
 *
 * @example res.end(formatSpiffeBundle({ trustDomain, x509Authorities, jwtAuthorities, sequence: 7, refreshHintSeconds: 300 }));
 */
export function formatSpiffeBundle(b: Omit<SpiffeBundle, 'trustDomain'>): string {
  const keys = [
    ...b.x509Authorities.map((der) => ({ use: 'x509-svid', ...jwkOf(new X509Certificate(der).publicKey), x5c: [Buffer.from(der).toString('base64')] })),
    ...b.jwtAuthorities.map((a) => ({ use: 'jwt-svid', kid: a.keyId, ...jwkOf(a.publicKey) })),
  ];
  return `${JSON.stringify(
    {
      keys,
      ...(b.refreshHintSeconds !== undefined ? { spiffe_refresh_hint: b.refreshHintSeconds } : {}),
      ...(b.sequence !== undefined ? { spiffe_sequence: b.sequence } : {}),
    },
    null,
    2,
  )}\n`;
}

/**
 * The JWK Set the Workload API's FetchJWTBundles carries for one trust domain: its JWT-SVID keys only
 * (SPIFFE Workload API §6.2.2: no keys of other uses).
 */
export function jwtBundleJwks(authorities: readonly JwtAuthority[]): string {
  return JSON.stringify({ keys: authorities.map((a) => ({ use: 'jwt-svid', kid: a.keyId, ...jwkOf(a.publicKey) })) });
}

/**
 * A short, stable fingerprint of a bundle's content (roots and JWT keys, not sequence or hint):
 * lowercase hex SHA-256, for comparing bundles and for logs.
 */
export function bundleDigest(b: Pick<SpiffeBundle, 'x509Authorities' | 'jwtAuthorities'>): string {
  const h = createHash('sha256');
  for (const der of b.x509Authorities) h.update('x').update(der);
  for (const a of b.jwtAuthorities)
    h.update('j')
      .update(a.keyId)
      .update('\0')
      .update(a.publicKey.export({ format: 'der', type: 'spki' }));
  return h.digest('hex');
}

/**
 * The RFC 7638 thumbprint (SHA-256, base64url) of a public key: the `kid` Castellan gives its own JWT
 * keys, so that the same key always has the same id and a changed key a new one.
 */
export function jwkThumbprint(publicKey: KeyObject): string {
  const j = publicKey.export({ format: 'jwk' });
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
  const canonical = j.kty === 'EC' ? { crv: j.crv, kty: j.kty, x: j.x, y: j.y } : { e: j.e, kty: j.kty, n: j.n };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** The public JWK members of a key (no `use`, `kid` or private members). */
function jwkOf(key: KeyObject): JsonWebKey {
  const j = key.export({ format: 'jwk' });
  return (j.kty === 'EC' ? { kty: 'EC', crv: j.crv, x: j.x, y: j.y } : { kty: 'RSA', n: j.n, e: j.e }) as JsonWebKey;
}

/** Only the public members of an EC or RSA JWK: a private `d` must never turn a bundle key into a private key. */
function publicJwkFields(jwk: Record<string, unknown>): JsonWebKey {
  const s = (k: string) => (typeof jwk[k] === 'string' ? (jwk[k] as string) : undefined);
  if (jwk['kty'] === 'EC') return { kty: 'EC', crv: s('crv'), x: s('x'), y: s('y') } as JsonWebKey;
  return { kty: 'RSA', n: s('n'), e: s('e') } as JsonWebKey;
}

function optionalInteger(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${name} must be a non-negative integer, got ${JSON.stringify(v).slice(0, 40)}`);
  return v;
}

/** The trust domain a CA certificate names in a `spiffe://` URI SAN, if any. */
export function certificateTrustDomain(cert: X509Certificate): string | undefined {
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (!part.startsWith('URI:spiffe://')) continue;
    const uri = part.slice(4);
    try {
      return SpiffeId.parse(uri).trustDomain.name;
    } catch {
      try {
        return TrustDomain.fromIdString(uri.replace(/\/$/, '')).name;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

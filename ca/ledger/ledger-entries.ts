import type { AuthenticatedCaller } from '../../workload-identity/index.js';
import type { IssuedCertificate, SigningAuthority } from '../issuer.js';
import type { NewEntry } from './ledger-record.js';
import { sha256Hex, type LedgerApi } from './ledger-record.js';

/** What the CA knows about a request when it records it. */
export interface RequestFacts {
  readonly api: LedgerApi;
  /** The authenticated caller; absent when authentication itself failed. */
  readonly caller?: AuthenticatedCaller | undefined;
  /** SHA-256 of the presented token even when authentication failed (never the token). */
  readonly tokenSha256?: string | undefined;
  readonly peer?: string | undefined;
  /** SPKI DER of the CSR's key, when the CSR parsed. */
  readonly csrSpki?: Uint8Array | undefined;
  /** The authority that signed or would have signed. */
  readonly authority: SigningAuthority;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The fields every request record has. Built by assignment into one object (no spreads of partial
 * objects): this runs once per request on the event loop that serves requests.
 */
function common(f: RequestFacts, type: 'issuance' | 'refusal', spki: Uint8Array | undefined): Mutable<NewEntry> {
  const e: Mutable<NewEntry> = { type, api: f.api };
  const c = f.caller;
  if (c) {
    e.spiffeId = c.spiffeId.toString();
    e.namespace = c.namespace;
    e.serviceAccount = c.serviceAccount;
    e.authenticator = c.authenticator;
    if (c.pod) {
      e.podName = c.pod.name;
      e.podUid = c.pod.uid;
    }
  }
  const token = c?.tokenSha256 ?? f.tokenSha256;
  if (token) e.tokenSha256 = token;
  if (f.peer) e.peer = f.peer;
  if (spki) e.csrKeySha256 = sha256Hex(spki);
  e.issuerKeyId = f.authority.issuer.ski.toString('hex');
  return e;
}

/**
 * The record of an issued certificate.
 *
 * @example await ledger.append(issuedEntry({ api: 'istio', caller, peer, authority }, cert));
 */
export function issuedEntry(f: RequestFacts, cert: IssuedCertificate): NewEntry {
  const e = common(f, 'issuance', cert.request.spki);
  e.outcome = 'issued';
  e.spiffeId = cert.spiffeId.toString();
  e.serial = cert.serialHex;
  e.notBefore = notBeforeTime(cert.notBefore);
  e.notAfter = notAfterTime(cert.notAfter);
  return e;
}

/** What the ledger records of a JWT-SVID (docs/jwt-svid.md); the token itself is never stored. */
export interface JwtSvidFacts {
  readonly spiffeId: string;
  /** The token's `jti`, recorded as its serial. */
  readonly jti: string;
  readonly keyId: string;
  readonly algorithm: string;
  readonly audience: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/**
 * The record of an issued JWT-SVID: an issuance record with api `jwt-svid`, the `jti` as serial,
 * iat/exp as notBefore/notAfter, the signing slot's intermediate as issuer (so `root retire` waits for
 * live JWT-SVIDs of an old slot as for its certificates) and the kid, algorithm and audience as details.
 *
 * @example await ledger.append(jwtSvidIssuedEntry({ api: 'jwt-svid', caller, peer, authority }, jwt));
 */
export function jwtSvidIssuedEntry(f: RequestFacts, jwt: JwtSvidFacts): NewEntry {
  const e = common(f, 'issuance', undefined);
  e.outcome = 'issued';
  e.spiffeId = jwt.spiffeId;
  e.serial = jwt.jti;
  e.notBefore = jwt.issuedAt.toISOString();
  e.notAfter = jwt.expiresAt.toISOString();
  e.details = JSON.stringify({ kid: jwt.keyId, alg: jwt.algorithm, audience: jwt.audience });
  return e;
}

/** The record of a refused request; `reason` is the stable error code. */
export function refusedEntry(f: RequestFacts, reason: string): NewEntry {
  const e = common(f, 'refusal', f.csrSpki);
  e.outcome = 'refused';
  e.reason = reason;
  return e;
}

/**
 * The time as the certificate encodes it: X.509 times have whole seconds (RFC 5280 §4.1.2.5),
 * truncated. Requests in the same second share their notBefore/notAfter, so the last result is kept
 * (one per field) and Date#toISOString runs about once a second instead of twice per request.
 */
function certificateTimeFormatter(): (d: Date) => string {
  let second = Number.NaN;
  let text = '';
  return (d) => {
    const s = Math.floor(d.getTime() / 1000);
    if (s !== second) {
      text = new Date(s * 1000).toISOString();
      second = s;
    }
    return text;
  };
}
const notBeforeTime = certificateTimeFormatter();
const notAfterTime = certificateTimeFormatter();

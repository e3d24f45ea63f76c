import type { AuthenticatedCaller } from '../../workload-identity/index.js';
import type { IssuedCertificate, SigningAuthority } from '../issuer.js';
import type { NewEntry } from './ledger.js';
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

function common(f: RequestFacts): NewEntry {
  const c = f.caller;
  return {
    type: 'issuance',
    api: f.api,
    ...(c ? { spiffeId: c.spiffeId.toString(), namespace: c.namespace, serviceAccount: c.serviceAccount, authenticator: c.authenticator } : {}),
    ...(c?.pod ? { podName: c.pod.name, podUid: c.pod.uid } : {}),
    ...(c?.tokenSha256 ?? f.tokenSha256 ? { tokenSha256: (c?.tokenSha256 ?? f.tokenSha256)! } : {}),
    ...(f.peer ? { peer: f.peer } : {}),
    ...(f.csrSpki ? { csrKeySha256: sha256Hex(f.csrSpki) } : {}),
    issuerKeyId: f.authority.issuer.ski.toString('hex'),
  };
}

/**
 * The record of an issued certificate.
 *
 * @example await ledger.append(issuedEntry({ api: 'istio', caller, peer, authority }, cert));
 */
export function issuedEntry(f: RequestFacts, cert: IssuedCertificate): NewEntry {
  return {
    ...common({ ...f, csrSpki: cert.request.spki }),
    type: 'issuance',
    outcome: 'issued',
    spiffeId: cert.spiffeId.toString(),
    serial: cert.serialHex,
    notBefore: certificateTime(cert.notBefore),
    notAfter: certificateTime(cert.notAfter),
  };
}

/** The record of a refused request; `reason` is the stable error code. */
export function refusedEntry(f: RequestFacts, reason: string): NewEntry {
  return { ...common(f), type: 'refusal', outcome: 'refused', reason };
}

/** The time as the certificate encodes it: X.509 times have whole seconds (RFC 5280 §4.1.2.5), truncated. */
function certificateTime(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
}

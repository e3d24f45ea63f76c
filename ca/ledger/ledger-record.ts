import { hash } from 'node:crypto';

/** What a record is about. `checkpoint` records are written by the ledger itself. */
export type LedgerRecordType = 'issuance' | 'refusal' | 'lifecycle' | 'checkpoint';

/**
 * The front end that asked for a certificate. `mint` is the operator's `castellan ca mint`; `jwt-svid`
 * is Castellan's SignJwtSvid (a JWT-SVID: `serial` holds its `jti`, `details` its kid and audience).
 */
export type LedgerApi = 'istio' | 'castellan' | 'mint' | 'jwt-svid';

/**
 * The fields a caller supplies for one record (everything but the chain fields). Absent fields are
 * stored as NULL. Field names are the JSON names of `castellan audit list --output json` (stable).
 */
export interface LedgerEntry {
  readonly type: LedgerRecordType;
  /** ISO 8601 UTC with milliseconds. */
  readonly time: string;
  /** `issued` or `refused` for issuance/refusal records. */
  readonly outcome?: 'issued' | 'refused';
  /** The stable error code of a refusal (`ERR_TOKEN_EXPIRED`, `ERR_POLICY_DENIED` ...). */
  readonly reason?: string;
  readonly api?: LedgerApi;
  readonly spiffeId?: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly podName?: string;
  readonly podUid?: string;
  /** Lowercase hex SHA-256 of the bearer token (never the token). */
  readonly tokenSha256?: string;
  /** `jwks`, `tokenreview`, `client-certificate`, `operator` ... */
  readonly authenticator?: string;
  /** The caller's address as gRPC reports it (`10.0.0.7:53012`). */
  readonly peer?: string;
  /** Lowercase hex SHA-256 of the CSR's SubjectPublicKeyInfo DER. */
  readonly csrKeySha256?: string;
  /** Lowercase hex serial of the issued certificate. */
  readonly serial?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** Lowercase hex SubjectKeyIdentifier of the intermediate that signed (or would have signed). */
  readonly issuerKeyId?: string;
  /** Lifecycle and checkpoint records: what happened (`ca-init`, `intermediate-rotated`, `checkpoint`). */
  readonly event?: string;
  /** Lifecycle and checkpoint records: a JSON object, stored as the exact text that was hashed. */
  readonly details?: string;
}

/** An entry without its time: the ledger stamps it with its clock. */
export type NewEntry = Omit<LedgerEntry, 'time'> & { readonly time?: string };

/** A record as stored: the entry plus its place in the chain. */
export interface LedgerRecord extends LedgerEntry {
  /** 1, 2, 3 ... one sequence for the whole ledger (across CA replicas). */
  readonly seq: number;
  /** Lowercase hex SHA-256 of the previous record (`GENESIS_HASH` for seq 1). */
  readonly prevHash: string;
  /** Checkpoints: base64 signature by the CA's signing key over `signedBytes(record)`. */
  readonly signature?: string;
  /** Lowercase hex SHA-256 of `canonicalBytes(record)`. */
  readonly hash: string;
}

/** The "previous hash" of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** Version tag of the canonical encoding: a future encoding gets a new tag, old records keep theirs. */
export const ENCODING_V1 = 'castellan-ledger/v1';

/** Entry fields in their canonical order. Never reorder: the order is part of ENCODING_V1. */
export const ENTRY_FIELDS = [
  'time',
  'type',
  'outcome',
  'reason',
  'api',
  'spiffeId',
  'namespace',
  'serviceAccount',
  'podName',
  'podUid',
  'tokenSha256',
  'authenticator',
  'peer',
  'csrKeySha256',
  'serial',
  'notBefore',
  'notAfter',
  'issuerKeyId',
  'event',
  'details',
] as const satisfies readonly (keyof LedgerEntry)[];

type Unhashed = Omit<LedgerRecord, 'hash'>;

/**
 * The canonical encoding of a record: a JSON array of the version tag, the sequence number, every
 * entry field in a fixed order (null when absent), the previous hash and the signature. JSON arrays of
 * strings, integers and null serialise one way only, so any reader recomputes the same bytes.
 */
function canonical(r: Unhashed, withSignature: boolean): string {
  const values: (string | number | null)[] = [ENCODING_V1, r.seq];
  for (const f of ENTRY_FIELDS) values.push(r[f] ?? null);
  values.push(r.prevHash, withSignature ? (r.signature ?? null) : null);
  return JSON.stringify(values);
}

/** The bytes a record's hash covers (everything, including its sequence number and signature). */
export function canonicalBytes(r: Unhashed): Buffer {
  return Buffer.from(canonical(r, true), 'utf8');
}

/** The bytes a checkpoint's signature covers: the canonical encoding with the signature left null. */
export function signedBytes(r: Unhashed): Buffer {
  return Buffer.from(canonical(r, false), 'utf8');
}

/**
 * SHA-256 of a record's canonical encoding, lowercase hex.
 *
 * @example recordHash({ seq: 1, prevHash: GENESIS_HASH, type: 'lifecycle', time: '2026-01-01T00:00:00.000Z', event: 'ca-init' })
 */
export function recordHash(r: Unhashed): string {
  // Hashing the string as UTF-8 gives the bytes of canonicalBytes without copying them into a Buffer first.
  return hash('sha256', canonical(r, true), 'hex');
}

/**
 * Chains an entry after `prev`: assigns its sequence number and computes its hash. `time` stamps an
 * entry that has none (the ledger's clock) without copying it first. The record holds the entry's
 * fields (ENTRY_FIELDS; absent, undefined and null ones left out) and the chain fields.
 *
 * @example chainRecord({ type: 'lifecycle', time: '2026-01-01T00:00:00.000Z', event: 'ca-init' }, { seq: 0, hash: GENESIS_HASH })
 */
export function chainRecord(entry: Omit<LedgerEntry, 'time'> & { readonly time?: string }, prev: { seq: number; hash: string }, signature?: string, time?: string): LedgerRecord {
  // One pass builds both the record and the canonical array (this runs once per request, on the
  // event loop that serves requests: no intermediate copies of the entry).
  const seq = prev.seq + 1;
  const out: Record<string, string | number> = {};
  const values: (string | number | null)[] = [ENCODING_V1, seq];
  for (const f of ENTRY_FIELDS) {
    const v = f === 'time' ? (entry.time ?? time) : entry[f];
    if (v === undefined || v === null) {
      values.push(null);
    } else {
      out[f] = v;
      values.push(v);
    }
  }
  if (out.time === undefined) throw new TypeError('chainRecord: the entry has no time');
  values.push(prev.hash, signature ?? null);
  out.seq = seq;
  out.prevHash = prev.hash;
  if (signature !== undefined) out.signature = signature;
  out.hash = hash('sha256', JSON.stringify(values), 'hex');
  return out as unknown as LedgerRecord;
}

/** Lowercase hex SHA-256 of bytes (CSR public keys: the SPKI DER). */
export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}

import type { LedgerRecord } from './ledger-record.js';

/** The end of the chain as a writer sees it inside its transaction. */
export interface ChainTail {
  /** Sequence number of the newest record; 0 when the ledger is empty. */
  readonly seq: number;
  /** Hash of the newest record (GENESIS_HASH when empty). */
  readonly hash: string;
  /** Sequence number of the newest checkpoint; 0 when there is none. */
  readonly lastCheckpointSeq: number;
}

/**
 * A record the writer knows is in the chain: its own newest commit, or the head witness's checkpoint.
 * Every batch transaction checks that the record at `seq` still has `hash`; if not, the ledger was
 * truncated or rewritten under the writer and the batch fails with ERR_LEDGER_BROKEN instead of
 * chaining onto the shorter tail (which would hide the loss behind fresh checkpoints).
 */
export interface ChainAnchor {
  readonly seq: number;
  readonly hash: string;
}

/** Filters of `castellan audit list`; all optional, combined with AND. */
export interface LedgerQuery {
  readonly spiffeId?: string;
  readonly namespace?: string;
  readonly serial?: string;
  readonly outcome?: 'issued' | 'refused';
  /** ISO 8601 UTC: records at or after this time. */
  readonly since?: string;
  /** ISO 8601 UTC: records before this time. */
  readonly until?: string;
  /** Lowercase hex key id of the intermediate that signed the certificate. */
  readonly issuerKeyId?: string;
  /** ISO 8601 UTC: certificates still valid at this time (notAfter after it). */
  readonly validAt?: string;
  /** Newest first, at most this many. Default 100. */
  readonly limit?: number;
}

/**
 * Where records live. `appendBatch` is the one write path: inside a single transaction that excludes
 * every other writer (also in other processes) it reads the tail, lets `build` chain the new records
 * onto it, inserts them and commits; it resolves only after COMMIT returned, i.e. the records are
 * durable to the store's configured level. Inside the same transaction it checks every `anchors` record
 * (one primary-key lookup each) and fails with ERR_LEDGER_BROKEN when one is missing or different.
 */
export interface LedgerStore {
  readonly kind: 'sqlite' | 'postgres';
  /** For messages: the file path, or the URL without its password. */
  readonly location: string;
  appendBatch(build: (tail: ChainTail) => LedgerRecord[], anchors?: readonly ChainAnchor[]): Promise<LedgerRecord[]>;
  /** Records with seq > afterSeq in seq order, at most `limit`. */
  scan(afterSeq: number, limit: number): Promise<LedgerRecord[]>;
  query(q: LedgerQuery): Promise<LedgerRecord[]>;
  bySeq(seq: number): Promise<LedgerRecord | undefined>;
  bySerial(serial: string): Promise<LedgerRecord[]>;
  close(): Promise<void>;
}

/** Version of the table layout; bumped with a migration in each store when columns change. */
export const SCHEMA_VERSION = 1;

/** Column names in the order of `ENTRY_FIELDS` plus the chain fields (both stores use them). */
export const COLUMNS = [
  'seq',
  'time',
  'type',
  'outcome',
  'reason',
  'api',
  'spiffe_id',
  'namespace',
  'service_account',
  'pod_name',
  'pod_uid',
  'token_sha256',
  'authenticator',
  'peer',
  'csr_key_sha256',
  'serial',
  'not_before',
  'not_after',
  'issuer_key_id',
  'event',
  'details',
  'prev_hash',
  'signature',
  'hash',
] as const;

const FIELD_OF: Record<(typeof COLUMNS)[number], keyof LedgerRecord> = {
  seq: 'seq',
  time: 'time',
  type: 'type',
  outcome: 'outcome',
  reason: 'reason',
  api: 'api',
  spiffe_id: 'spiffeId',
  namespace: 'namespace',
  service_account: 'serviceAccount',
  pod_name: 'podName',
  pod_uid: 'podUid',
  token_sha256: 'tokenSha256',
  authenticator: 'authenticator',
  peer: 'peer',
  csr_key_sha256: 'csrKeySha256',
  serial: 'serial',
  not_before: 'notBefore',
  not_after: 'notAfter',
  issuer_key_id: 'issuerKeyId',
  event: 'event',
  details: 'details',
  prev_hash: 'prevHash',
  signature: 'signature',
  hash: 'hash',
};

const FIELDS: readonly (keyof LedgerRecord)[] = COLUMNS.map((c) => FIELD_OF[c]);

/** A record's column values in COLUMNS order (NULL for absent fields). */
export function rowValues(r: LedgerRecord): (string | number | null)[] {
  const out: (string | number | null)[] = new Array(FIELDS.length);
  for (let i = 0; i < FIELDS.length; i++) out[i] = (r[FIELDS[i]!] as string | number | undefined) ?? null;
  return out;
}

/** A row read back from either store as a record; absent (NULL) fields are left out. */
export function recordFromRow(row: Record<string, unknown>): LedgerRecord {
  const out: Record<string, unknown> = {};
  for (const c of COLUMNS) {
    const v = row[c];
    if (v === null || v === undefined) continue;
    out[FIELD_OF[c]] = c === 'seq' ? Number(v) : String(v);
  }
  return out as unknown as LedgerRecord;
}

/** The SQL of a query's WHERE clause and its parameters, with `$n` or `?` placeholders. */
export function whereOf(q: LedgerQuery, placeholder: (n: number) => string): { sql: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  const add = (col: string, op: string, v: string | undefined) => {
    if (v === undefined) return;
    params.push(v);
    parts.push(`${col} ${op} ${placeholder(params.length)}`);
  };
  add('spiffe_id', '=', q.spiffeId);
  add('namespace', '=', q.namespace);
  add('serial', '=', q.serial);
  add('outcome', '=', q.outcome);
  add('time', '>=', q.since);
  add('time', '<', q.until);
  add('issuer_key_id', '=', q.issuerKeyId);
  add('not_after', '>', q.validAt);
  return { sql: parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** The error of a batch whose anchor record is gone or changed (see ChainAnchor). */
export function anchorLostMessage(location: string, anchor: ChainAnchor, found: string | null | undefined, tailSeq: number): string {
  const what = found == null ? `ends at record ${tailSeq}, before record ${anchor.seq}` : `holds a different record ${anchor.seq}`;
  return (
    `ledger: ${location} ${what}, which this CA committed (hash ${anchor.hash.slice(0, 16)}…): the ledger was truncated or ` +
    'rewritten under the CA. Nothing more is recorded or issued; run `castellan audit verify` and see SECURITY.md (ledger recovery)'
  );
}

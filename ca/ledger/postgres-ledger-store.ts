import pg from 'pg';
import { ledgerError } from './ledger-errors.js';
import { GENESIS_HASH, type LedgerRecord } from './ledger-record.js';
import {
  anchorLostMessage,
  COLUMNS,
  recordFromRow,
  rowValues,
  SCHEMA_VERSION,
  whereOf,
  type ChainAnchor,
  type ChainTail,
  type LedgerQuery,
  type LedgerStore,
} from './ledger-store.js';

export interface PostgresLedgerOptions {
  /** `postgres://user:password@host:port/db`. */
  readonly url: string;
  /** Open an existing ledger without creating or migrating it (the audit CLI). Default false. */
  readonly readOnly?: boolean;
  /** Connections in the pool. Default 4. */
  readonly poolSize?: number;
  /** statement_timeout (ms). Default 10000. */
  readonly statementTimeoutMs?: number;
  /** lock_timeout (ms) for the advisory lock of a batch. Default 5000. */
  readonly lockTimeoutMs?: number;
}

/**
 * The key of the transaction-scoped advisory lock every writer takes before reading the tail: CA
 * replicas sharing the database append one after the other, so the chain stays one sequence
 * (PostgreSQL §9.27.10 advisory locks; released by COMMIT/ROLLBACK). "CASTLDGR" as an int64.
 */
const LOCK_KEY = '4846931446473246546';

/** Default statement_timeout of the ledger's connections. */
const STATEMENT_TIMEOUT_MS = 10_000;
/** Default wait for the advisory lock (another replica's batch) before a batch fails. */
const LOCK_TIMEOUT_MS = 5_000;

/** The tail, the newest checkpoint and the hashes at two anchor positions, in one row even when empty. */
const TAIL_SQL =
  "SELECT t.seq, t.hash, (SELECT max(seq) FROM castellan_ledger WHERE type = 'checkpoint') AS cp, " +
  '(SELECT hash FROM castellan_ledger WHERE seq = $1) AS a0, (SELECT hash FROM castellan_ledger WHERE seq = $2) AS a1 ' +
  'FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, hash FROM castellan_ledger ORDER BY seq DESC LIMIT 1) t ON true';

const CREATE = `
CREATE TABLE IF NOT EXISTS castellan_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS castellan_ledger (
  seq BIGINT PRIMARY KEY,
  time TEXT NOT NULL, type TEXT NOT NULL, outcome TEXT, reason TEXT, api TEXT,
  spiffe_id TEXT, namespace TEXT, service_account TEXT, pod_name TEXT, pod_uid TEXT,
  token_sha256 TEXT, authenticator TEXT, peer TEXT, csr_key_sha256 TEXT, serial TEXT,
  not_before TEXT, not_after TEXT, issuer_key_id TEXT, event TEXT, details TEXT,
  prev_hash TEXT NOT NULL, signature TEXT, hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS castellan_ledger_serial ON castellan_ledger (serial) WHERE serial IS NOT NULL;
CREATE INDEX IF NOT EXISTS castellan_ledger_spiffe_id ON castellan_ledger (spiffe_id, seq);
CREATE INDEX IF NOT EXISTS castellan_ledger_namespace ON castellan_ledger (namespace, seq);
CREATE INDEX IF NOT EXISTS castellan_ledger_time ON castellan_ledger (time);
CREATE INDEX IF NOT EXISTS castellan_ledger_checkpoints ON castellan_ledger (seq) WHERE type = 'checkpoint';
`;

/**
 * Whether a database URL names PostgreSQL (the one test, shared by the CA config and the CLI).
 *
 * @example isPostgresUrl('postgresql://ca@db/castellan') // true
 */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/**
 * The shared ledger for several CA replicas: table `castellan_ledger` in a PostgreSQL database. Each
 * batch is one transaction holding an advisory lock, so replicas interleave whole batches and the
 * sequence has no gaps or forks (seq is also the primary key: a second writer could not fork it).
 *
 * @example const store = await openPostgresLedgerStore({ url: process.env.CASTELLAN_DATABASE_URL! });
 */
export async function openPostgresLedgerStore(o: PostgresLedgerOptions): Promise<LedgerStore> {
  const location = redactUrl(o.url);
  // Timeouts everywhere: a hung server or network must fail requests (UNAVAILABLE), not queue them
  // forever. keepAlive notices a dead peer on an idle pooled connection.
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolSize ?? 4,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    statement_timeout: o.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS,
    query_timeout: (o.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS) + 5_000,
    idle_in_transaction_session_timeout: 2 * (o.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS),
  });
  // An idle client losing its connection must not crash the CA; the next query reports the failure.
  pool.on('error', () => {});
  const fail = (what: string, cause: unknown) => ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: ${what} ${location}: ${(cause as Error).message}`, { cause });
  try {
    if (o.readOnly) await checkVersion(pool, location);
    else await migrate(pool, location);
  } catch (cause) {
    await pool.end().catch(() => {});
    if ((cause as { code?: string }).code?.startsWith('ERR_LEDGER')) throw cause;
    throw fail('cannot open', cause);
  }
  const insertSql = (n: number) =>
    `INSERT INTO castellan_ledger (${COLUMNS.join(', ')}) VALUES ` +
    Array.from({ length: n }, (_, i) => `(${COLUMNS.map((_c, j) => `$${i * COLUMNS.length + j + 1}`).join(', ')})`).join(', ');
  const rows = (rs: Record<string, unknown>[]) => rs.map(recordFromRow);
  return {
    kind: 'postgres',
    location,
    async appendBatch(build: (tail: ChainTail) => LedgerRecord[], anchors: readonly ChainAnchor[] = []) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (cause) {
        throw fail('cannot connect to', cause);
      }
      try {
        // READ COMMITTED explicitly (a server or role default of REPEATABLE READ would take the snapshot at
        // the lock statement, before the lock is granted, and the tail read would miss the previous batch).
        // (Both in one simple-protocol round trip.)
        await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = ${Math.floor(o.lockTimeoutMs ?? LOCK_TIMEOUT_MS)}`);
        await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
        // This statement's snapshot is taken after the lock, so it sees every earlier batch. The anchors
        // (ChainAnchor) are checked in the same statement: one round trip.
        const tail = await client.query<{ seq: string | null; hash: string | null; cp: string | null; a0: string | null; a1: string | null }>(TAIL_SQL, [
          anchors[0]?.seq ?? 0,
          anchors[1]?.seq ?? 0,
        ]);
        const t = tail.rows[0]!;
        const tailSeq = t.seq === null ? 0 : Number(t.seq);
        for (const [i, a] of anchors.slice(0, 2).entries()) {
          const found = i === 0 ? t.a0 : t.a1;
          if (found !== a.hash) throw ledgerError('ERR_LEDGER_BROKEN', anchorLostMessage(location, a, found, tailSeq), { context: { anchor: a, found, tailSeq } });
        }
        const records = build({ seq: tailSeq, hash: t.hash ?? GENESIS_HASH, lastCheckpointSeq: t.cp ? Number(t.cp) : 0 });
        if (records.length > 0) await client.query(insertSql(records.length), records.flatMap(rowValues));
        await client.query('COMMIT');
        client.release();
        return records;
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => {});
        client.release(true);
        if ((cause as { code?: string }).code === 'ERR_LEDGER_BROKEN') throw cause;
        throw fail('cannot write to', cause);
      }
    },
    async scan(afterSeq, limit) {
      return rows((await pool.query('SELECT * FROM castellan_ledger WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit])).rows);
    },
    async query(q: LedgerQuery) {
      const w = whereOf(q, (n) => `$${n}`);
      const sql = `SELECT * FROM castellan_ledger ${w.sql} ORDER BY seq DESC LIMIT $${w.params.length + 1}`;
      return rows((await pool.query(sql, [...w.params, q.limit ?? 100])).rows);
    },
    async bySeq(seq) {
      return rows((await pool.query('SELECT * FROM castellan_ledger WHERE seq = $1', [seq])).rows)[0];
    },
    async bySerial(serial) {
      return rows((await pool.query('SELECT * FROM castellan_ledger WHERE serial = $1 ORDER BY seq', [serial])).rows);
    },
    async close() {
      await pool.end();
    },
  };
}

async function migrate(pool: pg.Pool, location: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Replicas starting together must not race on CREATE TABLE.
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await client.query(CREATE);
    const v = await client.query<{ value: string }>("SELECT value FROM castellan_ledger_meta WHERE key = 'schema_version'");
    if (v.rows.length === 0) await client.query("INSERT INTO castellan_ledger_meta (key, value) VALUES ('schema_version', $1)", [String(SCHEMA_VERSION)]);
    else if (Number(v.rows[0]!.value) > SCHEMA_VERSION) {
      throw ledgerError('ERR_LEDGER_SCHEMA', `ledger: ${location} has schema version ${v.rows[0]!.value}, newer than this Castellan (${SCHEMA_VERSION}); upgrade Castellan`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function checkVersion(pool: pg.Pool, location: string): Promise<void> {
  let v;
  try {
    v = await pool.query<{ value: string }>("SELECT value FROM castellan_ledger_meta WHERE key = 'schema_version'");
  } catch (cause) {
    if ((cause as { code?: string }).code === '42P01') throw ledgerError('ERR_LEDGER_NOT_FOUND', `ledger: ${location} holds no Castellan ledger`, { cause });
    throw cause;
  }
  const version = v.rows[0]?.value;
  if (version === undefined || Number(version) > SCHEMA_VERSION) {
    throw ledgerError('ERR_LEDGER_SCHEMA', `ledger: ${location} has schema version ${version ?? 'none'}; this Castellan reads version ${SCHEMA_VERSION}`);
  }
}

import { closeSync, chmodSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ledgerError } from './ledger-errors.js';
import { INSERT_SQL, SqliteWriter, sqliteWriteTransaction } from './sqlite-writer.js';
import { GENESIS_HASH } from './ledger-record.js';
import { anchorLostMessage, recordFromRow, rowValues, SCHEMA_VERSION, whereOf, type ChainTail, type LedgerQuery, type LedgerStore } from './ledger-store.js';

/** Durability of a commit in WAL mode (https://sqlite.org/pragma.html#pragma_synchronous). */
export type SqliteSynchronous = 'full' | 'normal';

export interface SqliteLedgerOptions {
  readonly file: string;
  /**
   * `full`: every COMMIT fsyncs the WAL (survives power loss). `normal`: the WAL is fsynced only at
   * checkpoints; a COMMIT survives a crash of the process but may be lost with the machine. Default full.
   */
  readonly synchronous?: SqliteSynchronous;
  /** Open an existing ledger without creating or migrating it (the audit CLI). Default false. */
  readonly readOnly?: boolean;
}

/** busy_timeout of the inline (synchronous=NORMAL) writer, which waits on the event loop. */
const INLINE_BUSY_TIMEOUT_MS = 500;

// Only the indexes the write path and 'audit show SERIAL' need: every index is one more B-tree page
// written per commit (measured: ~40 % of the per-record cost with synchronous=NORMAL). 'audit list'
// filters walk the primary key newest first and stop at --limit, which is fast for recent records.
const CREATE = `
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL, type TEXT NOT NULL, outcome TEXT, reason TEXT, api TEXT,
  spiffe_id TEXT, namespace TEXT, service_account TEXT, pod_name TEXT, pod_uid TEXT,
  token_sha256 TEXT, authenticator TEXT, peer TEXT, csr_key_sha256 TEXT, serial TEXT,
  not_before TEXT, not_after TEXT, issuer_key_id TEXT, event TEXT, details TEXT,
  prev_hash TEXT NOT NULL, signature TEXT, hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_serial ON ledger (serial) WHERE serial IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_checkpoints ON ledger (seq) WHERE type = 'checkpoint';
`;

/**
 * The embedded ledger: one SQLite file in WAL mode (readers never block the writer), mode 0600.
 * Writes go through a worker thread (sqlite-writer.ts) so COMMIT's fsync never stalls the event loop.
 * Several processes may write the same file (`ca serve` and `ca mint`): BEGIN IMMEDIATE serialises them
 * and the writer checks, inside its transaction, that the tail is the one the batch was chained onto.
 *
 * @example const store = openSqliteLedgerStore({ file: '.castellan/ledger.db' });
 */
export function openSqliteLedgerStore(o: SqliteLedgerOptions): LedgerStore {
  let db: Database.Database;
  try {
    if (!o.readOnly) {
      // Create the file ourselves so it is 0600 from its first byte; SQLite gives -wal/-shm the same mode.
      closeSync(openSync(o.file, 'a', 0o600));
      chmodSync(o.file, 0o600);
    }
    // readOnly still opens read-write: a read-only connection to a WAL database fails when the -shm file
    // is absent (after a clean close); nothing is written unless appendBatch is called.
    db = new Database(o.file, { fileMustExist: true });
    // synchronous=NORMAL writes on this connection, on the event loop: waiting for another process's
    // write lock blocks every request, so that wait is short (a `ca mint` batch takes milliseconds).
    db.pragma(`busy_timeout = ${!o.readOnly && o.synchronous === 'normal' ? INLINE_BUSY_TIMEOUT_MS : 10_000}`);
    if (!o.readOnly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${(o.synchronous ?? 'full').toUpperCase()}`);
      migrate(db, o.file);
    } else {
      checkVersion(db, o.file);
    }
  } catch (cause) {
    if ((cause as { code?: string }).code?.startsWith('ERR_LEDGER')) throw cause;
    if (o.readOnly && (cause as { code?: string }).code === 'SQLITE_CANTOPEN') {
      throw ledgerError('ERR_LEDGER_NOT_FOUND', `ledger: ${o.file} does not exist; the CA has recorded nothing yet, or --dir is wrong`, { cause });
    }
    throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot open ${o.file}: ${(cause as Error).message}`, { cause });
  }
  const scan = db.prepare('SELECT * FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?');
  const bySeq = db.prepare('SELECT * FROM ledger WHERE seq = ?');
  const bySerial = db.prepare('SELECT * FROM ledger WHERE serial = ? ORDER BY seq');
  const full = (o.synchronous ?? 'full') === 'full';
  // FULL fsyncs every COMMIT (~150 µs here, far more on slow disks): done on the event loop it would stall
  // every request, so a worker thread writes. NORMAL commits without fsync (~30 µs): the thread's message
  // round trip would cost more than it saves, so this connection writes inline.
  const writer = full ? new SqliteWriter({ file: o.file, synchronous: 'FULL' }) : inlineWriter(db);
  // The tail after our last commit: this process is normally the only writer, so the next batch chains
  // onto it without asking; when another process (ca mint) wrote meanwhile the writer says so and we re-chain.
  let cachedTail: ChainTail | undefined;
  const rows = (rs: unknown[]) => rs.map((r) => recordFromRow(r as Record<string, unknown>));
  return {
    kind: 'sqlite',
    location: o.file,
    async appendBatch(build, anchors = []) {
      if (o.readOnly) throw new TypeError('openSqliteLedgerStore: this store was opened readOnly');
      let tail = cachedTail ?? (await writer.tail());
      for (let attempt = 0; attempt < 10; attempt++) {
        const records = build(tail);
        if (records.length === 0) return records;
        // The tail this batch leaves is known before it commits: the next batch chains onto it without
        // asking the database (the writer's transaction checks it, and the anchors, anyway).
        const lastRecord = records[records.length - 1]!;
        let lastCheckpointSeq = tail.lastCheckpointSeq;
        for (let i = records.length - 1; i >= 0; i--) {
          if (records[i]!.type === 'checkpoint') {
            lastCheckpointSeq = records[i]!.seq;
            break;
          }
        }
        cachedTail = { seq: lastRecord.seq, hash: lastRecord.hash, lastCheckpointSeq };
        let r;
        try {
          r = await writer.append(tail, records.map(rowValues), anchors);
        } catch (err) {
          cachedTail = undefined;
          throw err;
        }
        if ('ok' in r) return records;
        if ('broken' in r) {
          cachedTail = undefined;
          throw ledgerError('ERR_LEDGER_BROKEN', anchorLostMessage(o.file, r.broken.anchor, r.broken.found, r.broken.tailSeq), { context: { ...r.broken } });
        }
        // Another writer (process) moved the tail, or an earlier batch of ours failed: chain again.
        cachedTail = undefined;
        tail = r.conflict;
      }
      throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: ${o.file} keeps changing under this writer; another process appends continuously`);
    },
    scan: (afterSeq, limit) => Promise.resolve(rows(scan.all(afterSeq, limit))),
    query(q: LedgerQuery) {
      const w = whereOf(q, () => '?');
      return Promise.resolve(rows(db.prepare(`SELECT * FROM ledger ${w.sql} ORDER BY seq DESC LIMIT ?`).all(...w.params, q.limit ?? 100)));
    },
    bySeq: (seq) => Promise.resolve(rows(bySeq.all(seq))[0]),
    bySerial: (serial) => Promise.resolve(rows(bySerial.all(serial))),
    async close() {
      await writer.close();
      if (db.open) db.close();
    },
  };
}

/** The SqliteWriter contract on this connection, synchronously (synchronous=NORMAL). */
function inlineWriter(db: Database.Database): Pick<SqliteWriter, 'tail' | 'append' | 'close'> {
  const txn = sqliteWriteTransaction(db, INSERT_SQL, GENESIS_HASH);
  const fail = (cause: unknown) => ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot write to ${db.name}: ${(cause as Error).message}`, { cause });
  return {
    tail: async () => {
      try {
        return txn.tail();
      } catch (cause) {
        throw fail(cause);
      }
    },
    append: async (expected, rows, anchors = []) => {
      try {
        return txn.append(expected, rows, anchors);
      } catch (cause) {
        throw fail(cause);
      }
    },
    close: async () => {},
  };
}

function migrate(db: Database.Database, file: string): void {
  db.transaction(() => {
    db.exec(CREATE);
    const v = db.prepare("SELECT value FROM ledger_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    if (v === undefined) db.prepare("INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    else if (Number(v.value) > SCHEMA_VERSION) {
      throw ledgerError('ERR_LEDGER_SCHEMA', `ledger: ${file} has schema version ${v.value}, newer than this Castellan (${SCHEMA_VERSION}); upgrade Castellan`);
    }
    // Older versions would be migrated here, step by step, inside this transaction.
  }).immediate();
}

function checkVersion(db: Database.Database, file: string): void {
  let v: { value: string } | undefined;
  try {
    v = db.prepare("SELECT value FROM ledger_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
  } catch (cause) {
    throw ledgerError('ERR_LEDGER_NOT_FOUND', `ledger: ${file} is not a Castellan ledger`, { cause });
  }
  if (v === undefined || Number(v.value) > SCHEMA_VERSION) {
    throw ledgerError('ERR_LEDGER_SCHEMA', `ledger: ${file} has schema version ${v?.value ?? 'none'}; this Castellan reads version ${SCHEMA_VERSION}`);
  }
}

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ledgerError } from './ledger-errors.js';
import { GENESIS_HASH } from './ledger-record.js';
import { COLUMNS } from './ledger-store.js';
import type { ChainAnchor, ChainTail } from './ledger-store.js';

/** The part of better-sqlite3 the write transaction uses (the worker gets the real driver). */
interface SqliteDb {
  prepare(sql: string): { get(...p: unknown[]): unknown; run(...p: unknown[]): unknown };
  transaction<A extends unknown[], R>(fn: (...a: A) => R): { immediate(...a: A): R };
}

/**
 * The one write transaction of the SQLite ledger, used on the event loop (synchronous=NORMAL) and in
 * the writer thread, which receives this function's source text (hence: no imports, no closures over
 * module variables). Inside BEGIN IMMEDIATE it checks the anchors (ChainAnchor), then that the tail is
 * the one the caller chained onto, then inserts.
 */
export function sqliteWriteTransaction(db: SqliteDb, insertSql: string, genesis: string) {
  const insert = db.prepare(insertSql);
  const last = db.prepare('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1');
  const lastCheckpoint = db.prepare("SELECT seq FROM ledger WHERE type = 'checkpoint' ORDER BY seq DESC LIMIT 1");
  const at = db.prepare('SELECT hash FROM ledger WHERE seq = ?');
  const tail = (): ChainTail => {
    const l = last.get() as { seq: number; hash: string } | undefined;
    const c = lastCheckpoint.get() as { seq: number } | undefined;
    return { seq: l ? l.seq : 0, hash: l ? l.hash : genesis, lastCheckpointSeq: c ? c.seq : 0 };
  };
  const append = db.transaction((expected: ChainTail, rows: unknown[][], anchors: readonly ChainAnchor[]): WriteResult => {
    const t = tail();
    for (const a of anchors) {
      const r = at.get(a.seq) as { hash: string } | undefined;
      if (!r || r.hash !== a.hash) return { broken: { anchor: a, found: r ? r.hash : null, tailSeq: t.seq } };
    }
    if (t.seq !== expected.seq || t.hash !== expected.hash || t.lastCheckpointSeq !== expected.lastCheckpointSeq) return { conflict: t };
    for (const r of rows) insert.run(r);
    return { ok: true };
  });
  return { tail, append: (expected: ChainTail, rows: unknown[][], anchors: readonly ChainAnchor[]) => append.immediate(expected, rows, anchors) };
}

/**
 * The worker's code (CommonJS, run with `eval`: no file to resolve, so it works from sources under tsx,
 * from dist/, and inside test runners alike). It owns the writing connection and runs
 * sqliteWriteTransaction (its compiled source is embedded): BEGIN IMMEDIATE, checks, insert, COMMIT
 * (and its fsync) — all off the event loop that serves requests.
 */
const WORKER_SOURCE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const Database = require(w.driver);
const db = new Database(w.file, { fileMustExist: true });
db.pragma('busy_timeout = 10000');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + w.synchronous);
// esbuild (tsx) compiles with keepNames, which wraps named functions in __name(fn, "name"): a no-op here.
const __name = (f) => f;
const txn = (${sqliteWriteTransaction.toString()})(db, w.insertSql, w.genesis);
parentPort.on('message', (m) => {
  try {
    if (m.op === 'tail') parentPort.postMessage({ id: m.id, tail: txn.tail() });
    else if (m.op === 'append') parentPort.postMessage(Object.assign({ id: m.id }, txn.append(m.expected, JSON.parse(m.rows), m.anchors)));
    else if (m.op === 'close') { db.close(); parentPort.postMessage({ id: m.id, closed: true }); }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

/** The INSERT of one record (both writers). */
export const INSERT_SQL = `INSERT INTO ledger (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;

/** Inside the transaction, an anchor record (ChainAnchor) was missing (`found` null) or different. */
export interface AnchorLost {
  readonly anchor: ChainAnchor;
  readonly found: string | null;
  readonly tailSeq: number;
}

/** What one write transaction did: committed, found another tail (re-chain), or found the chain broken. */
export type WriteResult = { ok: true } | { conflict: ChainTail } | { broken: AnchorLost };

/** How long a request to the writer thread may take (busy_timeout is 10 s; a stuck thread must not hang requests). */
export const WRITER_REQUEST_TIMEOUT_MS = 30_000;

type Reply = { id: number; error?: string; tail?: ChainTail; conflict?: ChainTail; broken?: AnchorLost; ok?: boolean; closed?: boolean };

/**
 * The SQLite ledger's writing connection, in a worker thread. better-sqlite3 is synchronous: on the
 * event loop, every COMMIT with synchronous=FULL would stall all requests for its fsync (~150 µs here,
 * far more on slow disks). In the worker the fsync overlaps with request work.
 */
export class SqliteWriter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly o: { file: string; synchronous: 'FULL' | 'NORMAL'; timeoutMs?: number }) {}

  /** The tail as the database has it now. */
  async tail(): Promise<ChainTail> {
    return (await this.request({ op: 'tail' })).tail!;
  }

  /** Inserts `rows` in one transaction if the tail is still `expected`; else returns the actual tail. */
  async append(expected: ChainTail, rows: unknown[][], anchors: readonly ChainAnchor[] = []): Promise<WriteResult> {
    // One JSON string: structured cloning of nested arrays cost ~20 % of the main thread's ledger work.
    const r = await this.request({ op: 'append', expected, rows: JSON.stringify(rows), anchors });
    return r.ok ? { ok: true } : r.broken ? { broken: r.broken } : { conflict: r.conflict! };
  }

  /** Closes the connection and stops the thread; later requests fail (no new thread is started). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.worker) return;
    await this.request({ op: 'close' }, true).catch(() => {});
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private start(): Worker {
    const require = createRequire(import.meta.url);
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file: this.o.file,
        synchronous: this.o.synchronous,
        insertSql: INSERT_SQL,
        genesis: GENESIS_HASH,
      },
    });
    w.unref();
    w.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = undefined; // the next request starts a new one
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (${code})`)));
    return w;
  }

  private request(msg: Record<string, unknown>, closing = false): Promise<Reply> {
    if (this.closed && !closing) return Promise.reject(ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: the writer of ${this.o.file} is closed`));
    this.worker ??= this.start();
    const w = this.worker;
    const id = this.nextId++;
    // A request in flight keeps the process alive (the CLI awaits it with nothing else running).
    w.ref();
    return new Promise<Reply>((resolve, reject) => {
      // A thread stuck past busy_timeout (a lock held by another process, a hung disk) fails the batch
      // instead of holding every request of it forever.
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(`no answer from the writer thread in ${this.o.timeoutMs ?? WRITER_REQUEST_TIMEOUT_MS} ms`));
      }, this.o.timeoutMs ?? WRITER_REQUEST_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      w.postMessage({ ...msg, id });
    }).catch((cause: Error) => {
      throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot write to ${this.o.file}: ${cause.message}`, { cause });
    });
  }
}

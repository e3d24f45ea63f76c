import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ledgerError } from './ledger-errors.js';
import { GENESIS_HASH } from './ledger-record.js';
import { COLUMNS } from './ledger-store.js';
import type { ChainTail } from './ledger-store.js';

/**
 * The worker's code (CommonJS, run with `eval`: no file to resolve, so it works from sources under tsx,
 * from dist/, and inside test runners alike). It owns the writing connection: BEGIN IMMEDIATE, check
 * that the tail is the one the caller chained onto, insert, COMMIT (and its fsync) — all off the event
 * loop that serves requests.
 */
const WORKER_SOURCE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const Database = require(w.driver);
const db = new Database(w.file, { fileMustExist: true });
db.pragma('busy_timeout = 10000');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + w.synchronous);
const insert = db.prepare(w.insertSql);
const last = db.prepare('SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1');
const lastCheckpoint = db.prepare("SELECT seq FROM ledger WHERE type = 'checkpoint' ORDER BY seq DESC LIMIT 1");
const tail = () => {
  const l = last.get();
  const c = lastCheckpoint.get();
  return { seq: l ? l.seq : 0, hash: l ? l.hash : w.genesis, lastCheckpointSeq: c ? c.seq : 0 };
};
const append = db.transaction((expected, rows) => {
  const t = tail();
  if (t.seq !== expected.seq || t.hash !== expected.hash || t.lastCheckpointSeq !== expected.lastCheckpointSeq) return { conflict: t };
  for (const r of rows) insert.run(r);
  return { ok: true };
});
parentPort.on('message', (m) => {
  try {
    if (m.op === 'tail') parentPort.postMessage({ id: m.id, tail: tail() });
    else if (m.op === 'append') parentPort.postMessage(Object.assign({ id: m.id }, append.immediate(m.expected, JSON.parse(m.rows))));
    else if (m.op === 'close') { db.close(); parentPort.postMessage({ id: m.id, closed: true }); }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

type Reply = { id: number; error?: string; tail?: ChainTail; conflict?: ChainTail; ok?: boolean; closed?: boolean };

/**
 * The SQLite ledger's writing connection, in a worker thread. better-sqlite3 is synchronous: on the
 * event loop, every COMMIT with synchronous=FULL would stall all requests for its fsync (~150 µs here,
 * far more on slow disks). In the worker the fsync overlaps with request work.
 */
export class SqliteWriter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(private readonly o: { file: string; synchronous: 'FULL' | 'NORMAL' }) {}

  /** The tail as the database has it now. */
  async tail(): Promise<ChainTail> {
    return (await this.request({ op: 'tail' })).tail!;
  }

  /** Inserts `rows` in one transaction if the tail is still `expected`; else returns the actual tail. */
  async append(expected: ChainTail, rows: unknown[][]): Promise<{ ok: true } | { conflict: ChainTail }> {
    // One JSON string: structured cloning of nested arrays cost ~20 % of the main thread's ledger work.
    const r = await this.request({ op: 'append', expected, rows: JSON.stringify(rows) });
    return r.ok ? { ok: true } : { conflict: r.conflict! };
  }

  async close(): Promise<void> {
    if (!this.worker) return;
    await this.request({ op: 'close' }).catch(() => {});
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
        insertSql: `INSERT INTO ledger (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
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

  private request(msg: Record<string, unknown>): Promise<Reply> {
    this.worker ??= this.start();
    const w = this.worker;
    const id = this.nextId++;
    // A request in flight keeps the process alive (the CLI awaits it with nothing else running).
    w.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...msg, id });
    }).catch((cause: Error) => {
      throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot write to ${this.o.file}: ${cause.message}`, { cause });
    });
  }
}

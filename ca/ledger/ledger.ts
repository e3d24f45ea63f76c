import type { Logger } from 'pino';
import { makeCheckpoint, type CheckpointSigner } from './checkpoint.js';
import { GroupCommit } from './group-commit.js';
import { DEFAULT_SUMMARY_INTERVAL_MS, RefusalSummary } from './refusal-summary.js';
import { ledgerError } from './ledger-errors.js';
import type { LedgerWitness } from './ledger-head.js';
import { chainRecord, ENTRY_FIELDS, type LedgerRecord, type NewEntry } from './ledger-record.js';

export type { NewEntry } from './ledger-record.js';
import type { ChainAnchor, ChainTail, LedgerStore } from './ledger-store.js';
import type { LedgerError } from './ledger-errors.js';

export const DEFAULT_CHECKPOINT_EVERY = 1000;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;
/** Appends waiting for a commit at most; beyond, appends fail ERR_LEDGER_UNAVAILABLE at once. */
export const DEFAULT_MAX_PENDING = 10_000;

export interface LedgerOptions {
  readonly store: LedgerStore;
  /** The key that signs checkpoints, asked at each checkpoint (intermediates rotate). */
  readonly signer: () => CheckpointSigner;
  /** A checkpoint after this many records since the previous one. Default 1000. */
  readonly checkpointEvery?: number;
  /** A checkpoint this often (ms) when records were added since the previous one. Default 60000; 0: none by time. */
  readonly checkpointIntervalMs?: number;
  /** Where to keep the ledger head witness (a file in the CA directory, or a Kubernetes object); absent: none. */
  readonly headWitness?: LedgerWitness;
  /** The head witness's checkpoint as read when the ledger was opened: every batch checks it is still in the store. */
  readonly witness?: ChainAnchor;
  /** Records per transaction at most. Default 1000. */
  readonly maxBatch?: number;
  /** Appends waiting at most (DEFAULT_MAX_PENDING). */
  readonly maxPending?: number;
  /** How often summarised refusals (appendSummarized) are written, ms. Default 10000. */
  readonly summaryIntervalMs?: number;
  readonly now?: () => Date;
  readonly log?: Logger;
}

/** Counters of the ledger writer's trouble (for logs, tests and metrics). */
export interface LedgerStats {
  /** Checkpoints not written because the signing certificate was outside its validity. */
  checkpointsSkipped: number;
  /** Checkpoints (timer or final) whose batch failed. */
  checkpointFailures: number;
  /** Appends refused because too many were waiting. */
  overflows: number;
  /** Batch transactions that failed (their appends were rejected). */
  commitFailures: number;
  /** Set once the store was found truncated or rewritten under this writer (ERR_LEDGER_BROKEN). */
  broken: boolean;
}

// The entry as the caller gave it and the ledger's time stamp: chainRecord builds the record from both,
// so an append copies nothing (it runs once per request on the event loop).
type Item = { readonly entry: NewEntry; readonly time: string } | { readonly checkpoint: true };

// NUL cannot be stored in a PostgreSQL TEXT column (the whole batch would fail) and a lone UTF-16
// surrogate is not encodable as UTF-8 (it would be stored as U+FFFD and then verify as "edited").
const UNSTORABLE = /[\0\p{Cs}]/u;

function unstorableField(entry: NewEntry): string | undefined {
  for (const f of ENTRY_FIELDS) {
    const v = entry[f];
    if (typeof v === 'string' && UNSTORABLE.test(v)) return f;
  }
  return undefined;
}

/**
 * The issuance ledger's writer: appends records to a hash chain in a store, with group commit and
 * periodic signed checkpoints (docs/architecture.md §7). `append` resolves after the record's transaction committed.
 *
 * Every batch transaction also checks that the newest record this writer committed, and the head
 * witness's checkpoint, are still in the store unchanged (ChainAnchor). If not, the ledger was truncated
 * or rewritten under the CA: the writer stops for good (ERR_LEDGER_BROKEN, every later append fails,
 * so the CA issues nothing) instead of chaining onto the shorter tail.
 *
 * @example
 *   const ledger = new Ledger({ store, signer: () => checkpointSignerFor(ca.active), headWitness: fileLedgerWitness(ledgerHeadPath(dir)) });
 *   await ledger.append({ type: 'issuance', outcome: 'issued', spiffeId, serial });
 *   await ledger.close();
 */
export class Ledger {
  readonly stats: LedgerStats = { checkpointsSkipped: 0, checkpointFailures: 0, overflows: 0, commitFailures: 0, broken: false };
  private readonly queue: GroupCommit<Item, LedgerRecord | undefined>;
  private readonly every: number;
  private readonly now: () => Date;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly summaryTimer: NodeJS.Timeout;
  private readonly summary = new RefusalSummary();
  private headWrites: Promise<void> = Promise.resolve();
  private closed = false;
  private brokenError: LedgerError | undefined;
  /** The newest record this writer committed. */
  private committed: ChainAnchor | undefined;
  /** The checkpoint in the head witness file, as last read or written. */
  private witness: ChainAnchor | undefined;

  constructor(private readonly o: LedgerOptions) {
    this.every = o.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!(Number.isInteger(this.every) && this.every >= 1)) throw new TypeError(`Ledger: checkpointEvery ${this.every} must be an integer >= 1`);
    this.now = o.now ?? (() => new Date());
    this.witness = o.witness;
    // One batch in flight: records arriving during a commit wait and form the next, larger batch. Every
    // commit costs an fsync (synchronous=FULL) and one page write per index, so fewer, larger commits
    // cost less CPU; the wait (one commit, well under a millisecond) is small next to a request.
    const maxPending = o.maxPending ?? DEFAULT_MAX_PENDING;
    this.queue = new GroupCommit(
      (items) => this.commit(items),
      o.maxBatch ?? 1000,
      maxPending,
      () => {
        this.stats.overflows++;
        return ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: more than ${maxPending} records wait for ${this.location}; it is too slow or stuck`);
      },
    );
    const interval = o.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.summaryTimer = setInterval(() => void this.flushSummaries(), o.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS).unref();
    this.timer = interval > 0 ? setInterval(() => void this.checkpoint().catch((err: unknown) => this.checkpointFailed(err)), interval).unref() : undefined;
  }

  /** The hash of the ledger's first record (what the CA state remembers), or undefined while it is empty. */
  async genesis(): Promise<string | undefined> {
    return (await this.o.store.bySeq(1))?.hash;
  }

  /** Where the records go (`sqlite` file or `postgres` URL without password). */
  get location(): string {
    return `${this.o.store.kind} ${this.o.store.location}`;
  }

  /**
   * Appends one record; resolves with it (seq, hash) once it is committed. Rejects with
   * ERR_LEDGER_UNAVAILABLE, ERR_LEDGER_BROKEN (the store was truncated or rewritten under this writer),
   * or ERR_LEDGER_RECORD (a field holds NUL or a lone surrogate; nothing else in its batch is affected).
   * The entry is read when its batch is chained (not copied here): do not change it after the call.
   */
  append(entry: NewEntry): Promise<LedgerRecord> {
    if (this.brokenError) return Promise.reject(this.brokenError);
    if (this.closed) return Promise.reject(ledgerError('ERR_LEDGER_UNAVAILABLE', 'ledger: closed (the CA is shutting down)'));
    const bad = unstorableField(entry);
    if (bad) return Promise.reject(ledgerError('ERR_LEDGER_RECORD', `ledger: field ${bad} holds NUL or an unpaired UTF-16 surrogate; the record was not written`));
    return this.queue.add({ entry, time: entry.time ?? this.now().toISOString() }) as Promise<LedgerRecord>;
  }

  /**
   * Records a refusal that an unauthenticated client can cause at no cost (ERR_RATE_LIMITED before
   * authentication) as part of a per-`key` summary (RefusalSummary): the first of an interval is
   * appended now, the others are counted and appended as one `refusal-summary` record per key at the
   * end of the interval and at close. Never rejects (failures are logged): the refusal is answered anyway.
   */
  appendSummarized(key: string, entry: NewEntry): void {
    if (this.closed || this.brokenError || unstorableField(entry)) return;
    const time = entry.time ?? this.now().toISOString();
    if (this.summary.note(key, entry, time)) void this.append({ ...entry, time }).catch((err: unknown) => this.o.log?.error({ err }, 'ledger write failed for a refusal'));
  }

  /** Appends the summaries of the interval (normally called by a timer and at close). */
  async flushSummaries(): Promise<void> {
    const entries = this.summary.take();
    await Promise.all(entries.map((e) => this.append(e).catch((err: unknown) => this.o.log?.error({ err }, 'ledger write failed for a refusal summary'))));
  }

  /**
   * Records a CA lifecycle event: `ca-init`, `intermediate-rotated`, `root-prepared`, `root-activated`,
   * `root-retired` ... `details` is stored as JSON.
   *
   * @example await ledger.appendLifecycle('root-prepared', { authority: 2, rootSerial: '5f…' });
   */
  appendLifecycle(event: string, details: Record<string, unknown> = {}): Promise<LedgerRecord> {
    return this.append({ type: 'lifecycle', event, details: JSON.stringify(details) });
  }

  /** Appends a signed checkpoint now if records were added since the last one; resolves with it (or undefined). */
  checkpoint(): Promise<LedgerRecord | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    if (this.brokenError) return Promise.reject(this.brokenError);
    return this.queue.add({ checkpoint: true });
  }

  /**
   * Stops taking appends, commits what is queued, appends a final checkpoint, writes the head witness
   * and closes the store. Appends after the call fail ERR_LEDGER_UNAVAILABLE (the CA is shutting down).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    clearInterval(this.summaryTimer);
    const summaries = this.summary.take();
    for (const e of summaries) if (!this.brokenError) void this.queue.add({ entry: e, time: this.now().toISOString() }).catch(() => {});
    await this.queue.drain();
    if (!this.brokenError) await this.queue.add({ checkpoint: true }).catch((err: unknown) => this.checkpointFailed(err, 'final'));
    await this.queue.drain();
    await this.headWrites;
    await this.o.store.close();
  }

  private checkpointFailed(err: unknown, which = 'periodic'): void {
    this.stats.checkpointFailures++;
    // A broken ledger was already reported loudly; do not repeat it every interval.
    if ((err as { code?: string }).code !== 'ERR_LEDGER_BROKEN') this.o.log?.error({ err, failures: this.stats.checkpointFailures }, `ledger: ${which} checkpoint failed`);
  }

  private anchors(): ChainAnchor[] {
    const out: ChainAnchor[] = [];
    if (this.committed) out.push(this.committed);
    if (this.witness && this.witness.seq !== this.committed?.seq) out.push(this.witness);
    return out;
  }

  private async commit(items: Item[]): Promise<(LedgerRecord | undefined)[]> {
    if (this.brokenError) throw this.brokenError;
    const results: (LedgerRecord | undefined)[] = [];
    let written: LedgerRecord[];
    try {
      written = await this.o.store.appendBatch((tail) => {
        results.length = 0;
        return this.chain(tail, items, results);
      }, this.anchors());
    } catch (err) {
      this.stats.commitFailures++;
      if ((err as { code?: string }).code === 'ERR_LEDGER_BROKEN') this.breaks(err as LedgerError);
      throw err;
    }
    if (written.length > 0) {
      const last = written[written.length - 1]!;
      this.committed = { seq: last.seq, hash: last.hash };
    }
    let newestCheckpoint: LedgerRecord | undefined;
    for (let i = written.length - 1; i >= 0 && !newestCheckpoint; i--) if (written[i]!.type === 'checkpoint') newestCheckpoint = written[i];
    if (newestCheckpoint && this.o.headWitness) {
      const witness = this.o.headWitness;
      this.headWrites = this.headWrites
        .then(async () => {
          const h = await witness.advance(newestCheckpoint);
          // Never move our idea of the witness backwards: a newer one is another process's checkpoint.
          if (!this.witness || h.checkpoint.seq > this.witness.seq) this.witness = { seq: h.checkpoint.seq, hash: h.checkpoint.hash };
        })
        .catch((err: unknown) => this.o.log?.error({ err, witness: witness.location }, 'ledger: cannot write the head witness'));
    }
    return results;
  }

  private breaks(err: LedgerError): void {
    if (this.brokenError) return;
    this.brokenError = err;
    this.stats.broken = true;
    this.o.log?.error(
      { err, ledger: this.location, committed: this.committed, witness: this.witness },
      'LEDGER BROKEN: records this CA committed are gone or changed; the CA records and issues nothing more. Run `castellan audit verify`',
    );
  }

  /** Chains a batch onto the tail, inserting checkpoints every `every` records and where asked. */
  private chain(tail: ChainTail, items: Item[], results: (LedgerRecord | undefined)[]): LedgerRecord[] {
    const out: LedgerRecord[] = [];
    let prev = { seq: tail.seq, hash: tail.hash };
    let lastCheckpoint = tail.lastCheckpointSeq;
    let signer: CheckpointSigner | null | undefined; // asked once per batch; null: outside its validity
    const addCheckpoint = () => {
      const time = this.now();
      signer ??= this.validSigner(time);
      if (signer === null) return undefined;
      const cp = makeCheckpoint(prev, lastCheckpoint, signer, time.toISOString());
      out.push(cp);
      prev = cp;
      lastCheckpoint = cp.seq;
      return cp;
    };
    for (const item of items) {
      if ('checkpoint' in item) {
        results.push(prev.seq > lastCheckpoint ? addCheckpoint() : undefined);
        continue;
      }
      const r = chainRecord(item.entry, prev, undefined, item.time);
      out.push(r);
      prev = r;
      results.push(r);
      if (r.seq - lastCheckpoint >= this.every && signer !== null) addCheckpoint();
    }
    return out;
  }

  /**
   * The checkpoint signer if its certificate is valid at `time`, else null: a checkpoint signed outside
   * its signer's validity can never verify (verifyCheckpoint), so it is not written; the records stay
   * unprotected until a valid intermediate signs the next one.
   */
  private validSigner(time: Date): CheckpointSigner | null {
    const s = this.o.signer();
    const t = time.getTime();
    if ((s.notBefore && t < s.notBefore.getTime()) || (s.notAfter && t > s.notAfter.getTime())) {
      this.stats.checkpointsSkipped++;
      if (this.stats.checkpointsSkipped === 1 || this.stats.checkpointsSkipped % 100 === 0) {
        this.o.log?.error(
          { keyId: s.keyId, notBefore: s.notBefore, notAfter: s.notAfter, skipped: this.stats.checkpointsSkipped },
          'ledger: checkpoint NOT signed: the signing intermediate is outside its validity; rotate it (records stay unprotected until then)',
        );
      }
      return null;
    }
    return s;
  }
}

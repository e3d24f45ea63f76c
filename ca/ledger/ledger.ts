import type { Logger } from 'pino';
import { makeCheckpoint, type CheckpointSigner } from './checkpoint.js';
import { GroupCommit } from './group-commit.js';
import { ledgerError } from './ledger-errors.js';
import { writeLedgerHead } from './ledger-head.js';
import { chainRecord, type LedgerEntry, type LedgerRecord } from './ledger-record.js';
import type { ChainTail, LedgerStore } from './ledger-store.js';

export const DEFAULT_CHECKPOINT_EVERY = 1000;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

export interface LedgerOptions {
  readonly store: LedgerStore;
  /** The key that signs checkpoints, asked at each checkpoint (intermediates rotate). */
  readonly signer: () => CheckpointSigner;
  /** A checkpoint after this many records since the previous one. Default 1000. */
  readonly checkpointEvery?: number;
  /** A checkpoint this often (ms) when records were added since the previous one. Default 60000; 0: none by time. */
  readonly checkpointIntervalMs?: number;
  /** Where to keep the ledger head witness (normally `<ca dir>/ledger-head.json`); absent: none. */
  readonly headFile?: string;
  /** Records per transaction at most. Default 1000. */
  readonly maxBatch?: number;
  readonly now?: () => Date;
  readonly log?: Logger;
}

type Item = { readonly entry: LedgerEntry } | { readonly checkpoint: true };

/** An entry without its time: the ledger stamps it with its clock. */
export type NewEntry = Omit<LedgerEntry, 'time'> & { readonly time?: string };

/**
 * The issuance ledger's writer: appends records to a hash chain in a store, with group commit and
 * periodic signed checkpoints (DESIGN §7). `append` resolves after the record's transaction committed.
 *
 * @example
 *   const ledger = new Ledger({ store, signer: () => checkpointSignerFor(ca.active), headFile: ledgerHeadPath(dir) });
 *   await ledger.append({ type: 'issuance', outcome: 'issued', spiffeId, serial });
 *   await ledger.close();
 */
export class Ledger {
  private readonly queue: GroupCommit<Item, LedgerRecord | undefined>;
  private readonly every: number;
  private readonly now: () => Date;
  private readonly timer: NodeJS.Timeout | undefined;
  private headWrites: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: LedgerOptions) {
    this.every = o.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!(Number.isInteger(this.every) && this.every >= 1)) throw new TypeError(`Ledger: checkpointEvery ${this.every} must be an integer >= 1`);
    this.now = o.now ?? (() => new Date());
    // One batch in flight: records arriving during a commit wait and form the next, larger batch. Every
    // commit costs an fsync (synchronous=FULL) and one page write per index, so fewer, larger commits
    // cost less CPU; the wait (one commit, well under a millisecond) is small next to a request.
    this.queue = new GroupCommit((items) => this.commit(items), o.maxBatch ?? 1000, 1);
    const interval = o.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.timer = interval > 0 ? setInterval(() => void this.checkpoint().catch(() => {}), interval).unref() : undefined;
  }

  /** Where the records go (`sqlite` file or `postgres` URL without password). */
  get location(): string {
    return `${this.o.store.kind} ${this.o.store.location}`;
  }

  /** Appends one record; resolves with it (seq, hash) once it is committed. Rejects with ERR_LEDGER_UNAVAILABLE. */
  append(entry: NewEntry): Promise<LedgerRecord> {
    if (this.closed) return Promise.reject(ledgerError('ERR_LEDGER_UNAVAILABLE', 'ledger: closed (the CA is shutting down)'));
    const full = { ...entry, time: entry.time ?? this.now().toISOString() } as LedgerEntry;
    return this.queue.add({ entry: full }) as Promise<LedgerRecord>;
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
    return this.queue.add({ checkpoint: true });
  }

  /** Commits what is queued, appends a final checkpoint, writes the head witness and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    await this.queue.drain();
    await this.queue.add({ checkpoint: true }).catch((err: unknown) => this.o.log?.error({ err }, 'ledger: final checkpoint failed'));
    this.closed = true;
    await this.headWrites;
    await this.o.store.close();
  }

  private async commit(items: Item[]): Promise<(LedgerRecord | undefined)[]> {
    const results: (LedgerRecord | undefined)[] = [];
    const written = await this.o.store.appendBatch((tail) => {
      results.length = 0;
      return this.chain(tail, items, results);
    });
    const newestCheckpoint = [...written].reverse().find((r) => r.type === 'checkpoint');
    if (newestCheckpoint && this.o.headFile) {
      const file = this.o.headFile;
      this.headWrites = this.headWrites
        .then(() => writeLedgerHead(file, newestCheckpoint))
        .catch((err: unknown) => this.o.log?.error({ err, file }, 'ledger: cannot write the head witness'));
    }
    return results;
  }

  /** Chains a batch onto the tail, inserting checkpoints every `every` records and where asked. */
  private chain(tail: ChainTail, items: Item[], results: (LedgerRecord | undefined)[]): LedgerRecord[] {
    const out: LedgerRecord[] = [];
    let prev = { seq: tail.seq, hash: tail.hash };
    let lastCheckpoint = tail.lastCheckpointSeq;
    const addCheckpoint = () => {
      const cp = makeCheckpoint(prev, lastCheckpoint, this.o.signer(), this.now().toISOString());
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
      const r = chainRecord(item.entry, prev);
      out.push(r);
      prev = r;
      results.push(r);
      if (r.seq - lastCheckpoint >= this.every) addCheckpoint();
    }
    return out;
  }
}

import type { X509Certificate } from 'node:crypto';
import { checkpointDetails, verifyCheckpoint } from './checkpoint.js';
import type { LedgerHead } from './ledger-head.js';
import { GENESIS_HASH, recordHash, type LedgerRecord } from './ledger-record.js';
import type { LedgerStore } from './ledger-store.js';

/** How a ledger is broken. Field values are stable (`audit verify --output json`). */
export type LedgerProblemKind = 'edited' | 'deleted' | 'reordered' | 'truncated' | 'forged-checkpoint' | 'invalid-checkpoint';

export interface LedgerProblem {
  /** The first record found broken (for `truncated`: the first missing one). */
  readonly seq: number;
  readonly kind: LedgerProblemKind;
  readonly message: string;
}

export interface LedgerVerifyReport {
  readonly ok: boolean;
  /** Records read (checkpoints included), up to the problem when there is one. */
  readonly records: number;
  readonly checkpoints: number;
  readonly lastSeq: number;
  readonly lastCheckpointSeq: number;
  /** Records after the newest checkpoint: the tail no signature protects yet. */
  readonly unprotected: number;
  /** Sequence number of the head witness's checkpoint, when one was given. */
  readonly headSeq?: number;
  readonly problem?: LedgerProblem;
}

export interface VerifyOptions {
  /** Roots a checkpoint's signer must chain to (the CA directory's roots, retired ones included, or --bundle). */
  readonly roots: readonly X509Certificate[];
  /**
   * The certificates allowed to sign checkpoints: this CA's intermediates (`authorities/*\/ca-cert.pem`,
   * retired ones included). Absent: any CA certificate chaining to `roots` is accepted, which trusts
   * every other CA under those roots too (`audit verify --bundle` requires --signers for that reason).
   */
  readonly signers?: readonly X509Certificate[];
  /** The head witness from the CA directory, to detect truncation after the newest checkpoint in the database. */
  readonly head?: LedgerHead;
  /** How far around its position a misplaced record is looked for, to name a reordering. Default 1000. */
  readonly reorderWindow?: number;
  /** Called after each batch with the sequence number verified so far (progress for people). */
  readonly onProgress?: (seq: number) => void;
}

/**
 * Recomputes the whole chain: every record's hash, every link, every checkpoint signature, the head
 * witness. Stops at the first broken record and says what is wrong with it.
 *
 * @example const report = await verifyLedger(store, { roots: ca.authorities.map((a) => new X509Certificate(a.root.der)) });
 */
export async function verifyLedger(store: LedgerStore, o: VerifyOptions): Promise<LedgerVerifyReport> {
  let expected = 1;
  let prevHash = GENESIS_HASH;
  let lastCheckpoint = 0;
  let records = 0;
  let checkpoints = 0;
  const head = o.head?.checkpoint;
  const done = (problem?: LedgerProblem): LedgerVerifyReport => ({
    ok: problem === undefined,
    records,
    checkpoints,
    lastSeq: expected - 1,
    lastCheckpointSeq: lastCheckpoint,
    unprotected: expected - 1 - lastCheckpoint,
    ...(head ? { headSeq: head.seq } : {}),
    ...(problem ? { problem } : {}),
  });

  if (head) {
    const d = checkpointDetails(head);
    const p = recordHash(head) !== head.hash ? { message: 'its hash does not match its content' } : verifyCheckpoint(head, o.roots, (d?.from ?? 1) - 1, o.signers);
    if (p) return done({ seq: head.seq, kind: 'invalid-checkpoint', message: `the head witness (checkpoint ${head.seq}) is not valid: ${p.message}` });
  }

  for (;;) {
    const batch = await store.scan(expected - 1, 5000);
    if (batch.length === 0) break;
    for (const r of batch) {
      if (r.seq !== expected) {
        const gap = r.seq - expected === 1 ? `record ${expected} is missing` : `records ${expected}..${r.seq - 1} are missing`;
        return done({ seq: expected, kind: 'deleted', message: `${gap}: deleted (record ${r.seq} follows record ${expected - 1})` });
      }
      const own = recordHash(r);
      if (own !== r.hash || r.prevHash !== prevHash) {
        const wasAt = originalSeq(r, o.reorderWindow ?? 1000);
        if (wasAt !== undefined) {
          return done({ seq: r.seq, kind: 'reordered', message: `record ${r.seq} holds the record written as ${wasAt}: records were reordered (or deleted and renumbered)` });
        }
        if (own !== r.hash) return done({ seq: r.seq, kind: 'edited', message: `record ${r.seq} was edited: its content does not match its hash` });
        // Each record matches its own hash, but the link does not: one of the two was edited and its hash
        // recomputed (without the CA key the next checkpoint would not verify either).
        return done({
          seq: r.seq,
          kind: 'edited',
          message: `the link between records ${r.seq - 1} and ${r.seq} is broken: record ${r.seq - 1} or ${r.seq} was edited (and its hash recomputed)`,
        });
      }
      if (r.type === 'checkpoint') {
        const p = verifyCheckpoint(r, o.roots, lastCheckpoint, o.signers);
        if (p) {
          const covers = `records ${lastCheckpoint + 1}..${r.seq - 1}`;
          return done({ seq: r.seq, kind: p.kind, message: `checkpoint ${r.seq} (covering ${covers}): ${p.message}` });
        }
        lastCheckpoint = r.seq;
        checkpoints++;
      }
      if (head && r.seq === head.seq && r.hash !== head.hash) {
        return done({
          seq: r.seq,
          kind: 'edited',
          message: `record ${r.seq} differs from the checkpoint in the head witness: the ledger was rewritten from record ${lastCheckpoint + 1} on`,
        });
      }
      prevHash = r.hash;
      expected++;
      records++;
    }
    o.onProgress?.(expected - 1);
  }
  if (head && expected - 1 < head.seq) {
    return done({
      seq: expected,
      kind: 'truncated',
      message: `the ledger ends at record ${expected - 1} but the head witness holds checkpoint ${head.seq}: records from ${expected} on were deleted (truncated after checkpoint ${lastCheckpoint})`,
    });
  }
  return done();
}

/** The sequence number a record's content was hashed with, when it is near its position and not its own. */
function originalSeq(r: LedgerRecord, window: number): number | undefined {
  for (let d = 1; d <= window; d++) {
    for (const s of [r.seq - d, r.seq + d]) {
      if (s >= 1 && recordHash({ ...r, seq: s }) === r.hash) return s;
    }
  }
  return undefined;
}

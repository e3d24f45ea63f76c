import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../key-files.js';
import { lockFile } from '../lock-file.js';
import { ledgerError } from './ledger-errors.js';
import type { LedgerRecord } from './ledger-record.js';

/** File name of the ledger head witness in the CA directory. */
export const LEDGER_HEAD_FILE = 'ledger-head.json';

/**
 * The ledger head witness: the newest checkpoint this CA wrote, kept outside the database (in the CA
 * directory, written atomically). A checkpoint only protects the records before it; deleting the tail
 * of the database including its last checkpoints leaves a valid shorter chain. `audit verify` compares
 * the database with this file and reports such a truncation. Someone who can write both the database
 * and the CA directory can still truncate (they can also read the CA key there).
 */
export interface LedgerHead {
  readonly format: 1;
  readonly checkpoint: LedgerRecord;
}

/**
 * Where the head witness is kept: a file in the CA directory, or a Kubernetes object beside the CA's
 * state (docs/ledger.md). `advance` never moves it backwards.
 */
export interface LedgerWitness {
  /** For messages: the file or object. */
  readonly location: string;
  read(): Promise<LedgerHead | undefined>;
  /** Moves the witness to `checkpoint` unless it already holds a newer one; returns what it holds now. */
  advance(checkpoint: LedgerRecord): Promise<LedgerHead>;
}

/**
 * The witness as a file (`<ca dir>/ledger-head.json`).
 *
 * @example const w = fileLedgerWitness(ledgerHeadPath('/ca')); await w.read();
 */
export function fileLedgerWitness(file: string): LedgerWitness {
  return { location: file, read: () => readLedgerHead(file), advance: (c) => writeLedgerHead(file, c) };
}

/** Path of the witness for a CA directory. */
export function ledgerHeadPath(dir: string): string {
  return path.join(dir, LEDGER_HEAD_FILE);
}

/** Reads a witness; undefined when the file does not exist. */
export async function readLedgerHead(file: string): Promise<LedgerHead | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  return readLedgerHeadText(text, file);
}

/** Parses a witness's text; `where` names it in the error. */
export function readLedgerHeadText(text: string, where: string): LedgerHead {
  try {
    const h = JSON.parse(text) as LedgerHead;
    if (h.format !== 1 || typeof h.checkpoint?.seq !== 'number' || h.checkpoint.type !== 'checkpoint') throw new Error('not format 1');
    return h;
  } catch (cause) {
    throw ledgerError('ERR_LEDGER_BROKEN', `ledger: ${where} is not a ledger head witness (edited?)`, { cause });
  }
}

/** A lock older than this is left over from a crashed process and is taken over. */
const STALE_LOCK_MS = 10_000;

/**
 * Replaces the witness with `checkpoint` unless the file already holds a newer one (another replica's
 * or another process's); returns the witness now in the file. Read-compare-write runs under a lock
 * file (`<file>.lock`, created with O_EXCL) so two writers never move the witness backwards.
 */
export async function writeLedgerHead(file: string, checkpoint: LedgerRecord): Promise<LedgerHead> {
  const lock = `${file}.lock`;
  const release = await lockFile(lock, {
    staleMs: STALE_LOCK_MS,
    // Another writer holds it for one small atomic write.
    waitMs: 2_000,
    fail: (reason, _holder, cause) => ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot lock ${lock}: ${reason}`, cause === undefined ? {} : { cause }),
  });
  try {
    const current = await readLedgerHead(file).catch(() => undefined);
    if (current && current.checkpoint.seq >= checkpoint.seq) return current;
    const head: LedgerHead = { format: 1, checkpoint };
    await writeFileAtomic(file, `${JSON.stringify(head, null, 2)}\n`, 0o600);
    return head;
  } finally {
    await release();
  }
}

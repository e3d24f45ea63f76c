import path from 'node:path';
import type { Logger } from 'pino';
import type { SigningAuthority } from '../issuer.js';
import { checkpointSignerFor } from './checkpoint.js';
import { Ledger } from './ledger.js';
import { ledgerError } from './ledger-errors.js';
import { ledgerHeadPath, readLedgerHead } from './ledger-head.js';
import type { LedgerRecord } from './ledger-record.js';
import type { LedgerStore } from './ledger-store.js';
import { isPostgresUrl, openPostgresLedgerStore } from './postgres-ledger-store.js';
import { openSqliteLedgerStore, type SqliteSynchronous } from './sqlite-ledger-store.js';

/** File name of the embedded ledger in a CA directory. */
export const LEDGER_FILE = 'ledger.db';

export interface LedgerStoreLocation {
  /** CA directory: the SQLite ledger `<dir>/ledger.db` (used when no databaseUrl). */
  readonly dir?: string;
  /** `postgres://...` / `postgresql://...`: the shared PostgreSQL ledger. */
  readonly databaseUrl?: string;
  /** SQLite durability. Default full. */
  readonly synchronous?: SqliteSynchronous;
  /** Open an existing ledger only (the audit CLI). */
  readonly readOnly?: boolean;
}

/**
 * Opens the store a CA directory or database URL names (creating and migrating it unless readOnly).
 *
 * @example const store = await openLedgerStore({ dir: '.castellan' });
 */
export async function openLedgerStore(o: LedgerStoreLocation): Promise<LedgerStore> {
  if (o.databaseUrl !== undefined) {
    if (!isPostgresUrl(o.databaseUrl)) {
      throw ledgerError('ERR_LEDGER_CONFIG', 'ledger: the database URL must start with postgres:// or postgresql://');
    }
    return openPostgresLedgerStore({ url: o.databaseUrl, ...(o.readOnly ? { readOnly: true } : {}) });
  }
  if (o.dir === undefined) throw new TypeError('openLedgerStore: dir or databaseUrl is required');
  return openSqliteLedgerStore({
    file: path.join(o.dir, LEDGER_FILE),
    ...(o.synchronous ? { synchronous: o.synchronous } : {}),
    ...(o.readOnly ? { readOnly: true } : {}),
  });
}

export interface OpenLedgerOptions extends Omit<LedgerStoreLocation, 'readOnly'> {
  /** The CA directory: home of the head witness (and of the SQLite file without databaseUrl). */
  readonly dir: string;
  /** The authority whose intermediate key signs checkpoints, asked at each checkpoint. */
  readonly authority: () => SigningAuthority;
  readonly checkpointEvery?: number;
  readonly checkpointIntervalMs?: number;
  readonly now?: () => Date;
  readonly log?: Logger;
}

/**
 * Opens the CA's ledger writer: its store, checkpoints signed by the active intermediate, the head
 * witness in the CA directory. Refuses (ERR_LEDGER_BROKEN) when the store no longer holds the witness's
 * checkpoint unchanged: the ledger was truncated or rewritten, and chaining onto it would hide that.
 *
 * @example const ledger = await openLedger({ dir, authority: () => ca.active }); await ledger.appendLifecycle('ca-init'); await ledger.close();
 */
export async function openLedger(o: OpenLedgerOptions): Promise<Ledger> {
  const headFile = ledgerHeadPath(o.dir);
  const head = await readLedgerHead(headFile);
  const store = await openLedgerStore(o);
  if (head) {
    const w = head.checkpoint;
    let found: LedgerRecord | undefined;
    try {
      found = await store.bySeq(w.seq);
    } catch (cause) {
      await store.close().catch(() => {});
      throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot read ${store.location}: ${(cause as Error).message}`, { cause });
    }
    if (found?.hash !== w.hash) {
      await store.close().catch(() => {});
      throw ledgerError(
        'ERR_LEDGER_BROKEN',
        `ledger: ${store.kind} ${store.location} ${found ? 'holds a different' : 'has no'} record ${w.seq}, but the head witness ${headFile} holds ` +
          `checkpoint ${w.seq}: the ledger was truncated or rewritten (or this is not the database this CA directory wrote). The CA ` +
          'refuses to record onto it. Run `castellan audit verify --dir ' + o.dir + '` to see what is missing; to accept the loss after ' +
          `auditing, move ${headFile} aside (keep it as evidence) and start again (SECURITY.md, ledger recovery).`,
        { context: { witnessSeq: w.seq, found: found?.hash ?? null } },
      );
    }
  }
  return new Ledger({
    store,
    signer: () => checkpointSignerFor(o.authority()),
    headFile,
    ...(head ? { witness: { seq: head.checkpoint.seq, hash: head.checkpoint.hash } } : {}),
    ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}),
    ...(o.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: o.checkpointIntervalMs } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

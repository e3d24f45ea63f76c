import path from 'node:path';
import type { Logger } from 'pino';
import type { SigningAuthority } from '../issuer.js';
import { checkpointSignerFor } from './checkpoint.js';
import { Ledger } from './ledger.js';
import { ledgerError } from './ledger-errors.js';
import { fileLedgerWitness, ledgerHeadPath, type LedgerWitness } from './ledger-head.js';
import type { LedgerRecord } from './ledger-record.js';
import type { LedgerStore } from './ledger-store.js';
import { isPostgresUrl, openPostgresLedgerStore } from './postgres-ledger-store.js';
import { openSqliteLedgerStore, type SqliteSynchronous } from './sqlite-ledger-store.js';

/** File name of the embedded ledger in a CA directory. */
export const LEDGER_FILE = 'ledger.db';

export interface LedgerStoreLocation {
  /** CA directory: the SQLite ledger `<dir>/ledger.db` (used when neither databaseUrl nor sqliteFile). */
  readonly dir?: string;
  /** The SQLite ledger file (a CA whose state is not in a directory: `ledger.path`). */
  readonly sqliteFile?: string;
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
  if (o.dir === undefined && o.sqliteFile === undefined) throw new TypeError('openLedgerStore: dir, sqliteFile or databaseUrl is required');
  return openSqliteLedgerStore({
    file: o.sqliteFile ?? path.join(o.dir!, LEDGER_FILE),
    ...(o.synchronous ? { synchronous: o.synchronous } : {}),
    ...(o.readOnly ? { readOnly: true } : {}),
  });
}

export interface OpenLedgerOptions extends Omit<LedgerStoreLocation, 'readOnly'> {
  /** Where the head witness lives; default the file `<dir>/ledger-head.json`. */
  readonly witness?: LedgerWitness;
  /**
   * The hash of the ledger's first record as the CA state remembers it (docs/ledger.md): a ledger whose
   * record 1 is missing or different is another ledger (moved aside, replaced) and is refused.
   */
  readonly genesis?: string;
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
  if (!o.witness && o.dir === undefined) throw new TypeError('openLedger: witness or dir is required');
  const witness = o.witness ?? fileLedgerWitness(ledgerHeadPath(o.dir!));
  const headFile = witness.location;
  const head = await witness.read();
  const store = await openLedgerStore(o);
  if (o.genesis !== undefined) await checkGenesis(store, o.genesis);
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
          'refuses to record onto it. Run `castellan audit verify` to see what is missing; to accept the loss after ' +
          `auditing, move ${headFile} aside (keep it as evidence) and start again (SECURITY.md, ledger recovery).`,
        { context: { witnessSeq: w.seq, found: found?.hash ?? null } },
      );
    }
  }
  return new Ledger({
    store,
    signer: () => checkpointSignerFor(o.authority()),
    headWitness: witness,
    ...(head ? { witness: { seq: head.checkpoint.seq, hash: head.checkpoint.hash } } : {}),
    ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}),
    ...(o.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: o.checkpointIntervalMs } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

/** The hash of record 1, or undefined for an empty ledger. */
export async function ledgerGenesis(store: LedgerStore): Promise<string | undefined> {
  return (await store.bySeq(1))?.hash;
}

async function checkGenesis(store: LedgerStore, genesis: string): Promise<void> {
  let first: string | undefined;
  try {
    first = await ledgerGenesis(store);
  } catch (cause) {
    await store.close().catch(() => {});
    throw ledgerError('ERR_LEDGER_UNAVAILABLE', `ledger: cannot read ${store.location}: ${(cause as Error).message}`, { cause });
  }
  if (first === genesis) return;
  await store.close().catch(() => {});
  throw ledgerError(
    'ERR_LEDGER_BROKEN',
    `ledger: ${store.kind} ${store.location} ${first === undefined ? 'is empty' : 'starts with another record'}, but this CA's state remembers a ledger whose first record ` +
      `has hash ${genesis.slice(0, 16)}…: the ledger was moved aside, deleted or replaced. The CA refuses to start a new history silently. ` +
      'Restore the ledger (database or ledger.db) this CA wrote; to start over deliberately after auditing, see SECURITY.md, ledger recovery.',
    { context: { genesis, found: first ?? null } },
  );
}

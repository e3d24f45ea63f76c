import path from 'node:path';
import type { Logger } from 'pino';
import type { SigningAuthority } from '../issuer.js';
import { checkpointSignerFor } from './checkpoint.js';
import { Ledger } from './ledger.js';
import { ledgerError } from './ledger-errors.js';
import { ledgerHeadPath } from './ledger-head.js';
import type { LedgerStore } from './ledger-store.js';
import { openPostgresLedgerStore } from './postgres-ledger-store.js';
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
    if (!/^postgres(ql)?:\/\//.test(o.databaseUrl)) {
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
 * witness in the CA directory.
 *
 * @example const ledger = await openLedger({ dir, authority: () => ca.active }); await ledger.appendLifecycle('ca-init'); await ledger.close();
 */
export async function openLedger(o: OpenLedgerOptions): Promise<Ledger> {
  const store = await openLedgerStore(o);
  return new Ledger({
    store,
    signer: () => checkpointSignerFor(o.authority()),
    headFile: ledgerHeadPath(o.dir),
    ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}),
    ...(o.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: o.checkpointIntervalMs } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}

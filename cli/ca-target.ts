import path from 'node:path';
import { loadCaServerConfig, resolveCaConfig, storeFromConfig, type CaServerConfig, type CaStore, type LedgerStoreLocation } from '../ca/index.js';
import { loadKubeConfig } from '../workload-identity/index.js';
import { ledgerDatabaseUrl } from './database-url.js';
import { UsageError, type CliIo } from './io.js';

/** Flags naming the CA a command acts on: its directory, or the config file the CA runs with. */
export interface CaTargetFlags {
  dir?: string;
  config?: string;
  databaseUrl?: string;
}

/** The CA's store and the ledger it records into, as a command resolved them. */
export interface CaTarget {
  readonly store: CaStore;
  /** Where the ledger is: PostgreSQL, a SQLite file, or `<dir>/ledger.db`. */
  readonly ledger: LedgerStoreLocation;
  /**
   * The configuration file as given, not resolved: a key it leaves out means "what the running CA
   * published" to `check` and `root status` (rotation.intermediateRotateAt), or "not asked" (http).
   */
  readonly config?: CaServerConfig;
}

/** The CA's store alone, for commands that read no ledger (`check`, `root status`). */
export type CaStoreTarget = Omit<CaTarget, 'ledger'> & { readonly ledger?: LedgerStoreLocation };

/** Help text for the flags. */
export const TARGET_HELP = {
  dir: 'the CA directory',
  config: "the CA's configuration file: act on the store and ledger it names (a CA directory, or Kubernetes: store.kubernetes)",
} as const;

/**
 * The CA a command acts on (docs/cli.md): `--dir DIR`, or `--config FILE` — the CA's own configuration,
 * so that an operator reaches a Kubernetes store (store.kubernetes, with its kubeconfig) and the ledger
 * it names (ledger.url / ledger.path) exactly as the CA does. `--database-url` (or CASTELLAN_DATABASE_URL)
 * overrides the ledger.
 *
 * @example const { store, ledger } = await caTarget(flags, io);
 */
export async function caTarget(f: CaTargetFlags, io: CliIo): Promise<CaTarget>;
export async function caTarget(f: CaTargetFlags, io: CliIo, o: { ledger: false }): Promise<CaStoreTarget>;
export async function caTarget(f: CaTargetFlags, io: CliIo, o: { ledger?: boolean } = {}): Promise<CaStoreTarget> {
  if (f.dir === undefined && f.config === undefined) throw new UsageError('say which CA: --dir DIR (its directory) or --config FILE (the configuration it runs with)');
  const dir = f.dir !== undefined ? path.resolve(io.cwd, f.dir) : undefined;
  const config = f.config !== undefined ? await loadCaServerConfig(path.resolve(io.cwd, f.config)) : undefined;
  const { store } = await storeFromConfig(resolveCaConfig(config ?? {}), dir, (file) => loadKubeConfig(file));
  const url = ledgerDatabaseUrl(f.databaseUrl, io) ?? config?.ledger?.url;
  const sqlite = config?.ledger?.path;
  const ledger: LedgerStoreLocation | undefined = url ? { databaseUrl: url } : sqlite ? { sqliteFile: path.resolve(io.cwd, sqlite) } : dir ? { dir } : undefined;
  if (!ledger && o.ledger !== false) {
    await store.close();
    throw new UsageError(`${store.location} keeps no ledger itself: give --database-url (or CASTELLAN_DATABASE_URL), or ledger.url / ledger.path in --config`);
  }
  return { store, ...(ledger ? { ledger } : {}), ...(config ? { config } : {}) };
}

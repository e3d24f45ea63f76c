// The issuance ledger (docs/architecture.md §7): records, hash chain, signed checkpoints, SQLite/PostgreSQL stores.
export { checkpointDetails, checkpointSignerFor, makeCheckpoint, verifyCheckpoint, type CheckpointDetails, type CheckpointProblem, type CheckpointSigner } from './checkpoint.js';
export { GroupCommit } from './group-commit.js';
export { DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_MAX_PENDING, Ledger, type LedgerOptions, type LedgerStats, type NewEntry } from './ledger.js';
export { issuedEntry, jwtSvidIssuedEntry, refusedEntry, type JwtSvidFacts, type RequestFacts } from './ledger-entries.js';
export { ledgerError, type LedgerError, type LedgerErrorCode } from './ledger-errors.js';
export { fileLedgerWitness, LEDGER_HEAD_FILE, ledgerHeadPath, readLedgerHead, readLedgerHeadText, writeLedgerHead, type LedgerHead, type LedgerWitness } from './ledger-head.js';
export {
  canonicalBytes,
  chainRecord,
  ENCODING_V1,
  ENTRY_FIELDS,
  GENESIS_HASH,
  recordHash,
  sha256Hex,
  signedBytes,
  type LedgerApi,
  type LedgerEntry,
  type LedgerRecord,
  type LedgerRecordType,
} from './ledger-record.js';
export { COLUMNS, SCHEMA_VERSION, type ChainAnchor, type ChainTail, type LedgerQuery, type LedgerStore } from './ledger-store.js';
export { ledgerHealth, type LedgerHealth } from './ledger-health.js';
export { verifyLedger, type LedgerProblem, type LedgerProblemKind, type LedgerVerifyReport, type VerifyOptions } from './ledger-verify.js';
export { LEDGER_FILE, ledgerGenesis, openLedger, openLedgerStore, type LedgerStoreLocation, type OpenLedgerOptions } from './open-ledger.js';
export { isPostgresUrl, openPostgresLedgerStore, redactUrl, type PostgresLedgerOptions } from './postgres-ledger-store.js';
export { openSqliteLedgerStore, type SqliteLedgerOptions, type SqliteSynchronous } from './sqlite-ledger-store.js';

import { CastellanError } from '../../workload-identity/index.js';

/** Stable codes of ledger errors. ERR_LEDGER_UNAVAILABLE is gRPC UNAVAILABLE: nothing is issued unrecorded. */
export type LedgerErrorCode = 'ERR_LEDGER_UNAVAILABLE' | 'ERR_LEDGER_SCHEMA' | 'ERR_LEDGER_CONFIG' | 'ERR_LEDGER_BROKEN' | 'ERR_LEDGER_NOT_FOUND' | 'ERR_LEDGER_RECORD';

export type LedgerError = CastellanError<LedgerErrorCode>;

/** Builds a ledger error; the message starts with `ledger:` and says what to do. */
export function ledgerError(code: LedgerErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}): LedgerError {
  return new CastellanError(code, message, options);
}

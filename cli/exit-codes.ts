import { CommanderError } from 'commander';
import { isCastellanError } from '../workload-identity/index.js';
import { UsageError } from './io.js';
import { CheckResult } from './check-result.js';

/** Exit codes of every `castellan` command. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  /** A rotation step refused by its safety gate (`root activate`/`retire` without --force). */
  REFUSED: 3,
  /** `castellan check`: something needs attention soon. */
  WARNING: 4,
  /** `castellan check`: something is broken or about to break. */
  FAILING: 5,
} as const;

/**
 * The one mapping from errors to exit codes: 2 for a wrong call (unknown command or flag, a flag value
 * that does not parse), 1 for anything that went wrong doing the work. Returns the code and the one line
 * to print (undefined when commander already printed it).
 */
export function exitFor(err: unknown): { code: number; line: string | undefined } {
  if (err instanceof CommanderError) {
    // help and version are not failures
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return { code: EXIT.OK, line: undefined };
    return { code: EXIT.USAGE, line: undefined };
  }
  if (err instanceof UsageError) return { code: EXIT.USAGE, line: err.message };
  // `castellan check` printed its report; only the exit code is left to give.
  if (err instanceof CheckResult) return { code: err.exitCode, line: undefined };
  if (isCastellanError(err)) return { code: err.code === 'ERR_ROTATION_GATE' ? EXIT.REFUSED : EXIT.FAILURE, line: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.path === 'string') return { code: EXIT.FAILURE, line: `${e.code}: ${e.path}` };
  return { code: EXIT.FAILURE, line: `unexpected error: ${e instanceof Error ? e.message : String(e)}` };
}

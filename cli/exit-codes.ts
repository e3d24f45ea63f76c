import { CommanderError } from 'commander';
import { isCastellanError } from '../workload-identity/index.js';
import { UsageError, type CliIo } from './io.js';

/** Exit codes of every `castellan` command. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  /** A rotation step refused by its safety gate (`root activate`/`retire` without --force). */
  REFUSED: 3,
  /** `castellan check`: something needs attention soon. */
  WARNING: 4,
  /** `castellan check`, `root status`: something is broken or about to break. */
  FAILING: 5,
} as const;

/** How a command ended, as `run` reports it (docs/cli.md, exit codes and JSON errors). */
export interface Failure {
  /** The process exit code. */
  readonly code: number;
  /** The one line to print, or undefined when the command (or commander) already printed its report. */
  readonly line: string | undefined;
  /** The stable code: the error's own `ERR_*`, ERR_USAGE for a wrong call, ERR_INTERNAL for a bug; undefined when nothing failed. */
  readonly errorCode: string | undefined;
  /** The message for `--output json` errors (also when `line` is undefined because commander printed it). */
  readonly message: string | undefined;
}

/**
 * The one mapping from errors to exit codes and stable error codes: 2 (ERR_USAGE) for a wrong call
 * (unknown command or flag, a flag value that does not parse), 3 for a gate's refusal, 1 for anything
 * that went wrong doing the work; a command that printed its own report (`check`) carries its code.
 */
export function exitFor(err: unknown): Failure {
  if (err instanceof CommanderError) {
    // help and version are not failures
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
      return { code: EXIT.OK, line: undefined, errorCode: undefined, message: undefined };
    return { code: EXIT.USAGE, line: undefined, errorCode: 'ERR_USAGE', message: err.message.replace(/^error: /, '') };
  }
  if (err instanceof UsageError) return { code: EXIT.USAGE, line: err.message, errorCode: 'ERR_USAGE', message: err.message };
  // The command printed its report (`check`, `root status` of an expired CA); only the exit code is left.
  if (err instanceof ReportedResult) return { code: err.exitCode, line: undefined, errorCode: undefined, message: undefined };
  if (isCastellanError(err)) return { code: err.code === 'ERR_ROTATION_GATE' ? EXIT.REFUSED : EXIT.FAILURE, line: err.message, errorCode: err.code, message: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.path === 'string') {
    const line = `${e.code}: ${e.path}`;
    return { code: EXIT.FAILURE, line, errorCode: 'ERR_IO', message: line };
  }
  const line = `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
  return { code: EXIT.FAILURE, line, errorCode: 'ERR_INTERNAL', message: line };
}

/**
 * Prints how a command failed: the line as `castellan: <line>` on stderr, or with `json` one line
 * `{"error":{"code":"ERR_…","message":"…"}}` on stderr (stdout stays what the command printed).
 */
export function reportFailure(f: Failure, io: CliIo, json: boolean): void {
  if (json) {
    if (f.errorCode !== undefined) io.err(`${JSON.stringify({ error: { code: f.errorCode, message: f.message ?? '' } })}\n`);
  } else if (f.line !== undefined) io.err(`castellan: ${f.line}\n`);
}

/** True when the command line asks for JSON output (`--output json` or `--output=json`). */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.some((a, i) => a === '--output=json' || (a === '--output' && argv[i + 1] === 'json'));
}

/** Carries the exit code of a command that printed its own report (`check`, `root status`) out of it. */
export class ReportedResult extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ReportedResult';
  }
}

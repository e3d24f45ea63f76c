import { pino, type Logger } from 'pino';
import { UsageError, type CliIo } from './io.js';
import { textLogLine } from './log-text.js';

/** Log levels `CASTELLAN_LOG_LEVEL` accepts (pino's names; `silent` turns logging off). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Line formats `CASTELLAN_LOG_FORMAT` accepts: pino's JSON lines (default) or one readable line per event. */
export const LOG_FORMATS = ['json', 'text'] as const;

type LogLevel = (typeof LOG_LEVELS)[number];
type LogFormat = (typeof LOG_FORMATS)[number];

/** The value of `name` in `io.env` (trimmed, lowercased), checked against `allowed`; a usage error (exit 2) otherwise. */
function choice<T extends string>(io: CliIo, name: string, allowed: readonly T[], fallback: T): T {
  const raw = io.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new UsageError(`${name}: ${JSON.stringify(raw)} is not accepted; use one of ${allowed.join(', ')} (default ${fallback})`);
}

/**
 * The logger of a long-running command (`ca serve`, `agent`): level from `CASTELLAN_LOG_LEVEL`
 * (default info), format from `CASTELLAN_LOG_FORMAT` (default json), every line tagged with
 * `component`. A value it does not know is a usage error naming the variable and the accepted values.
 *
 * JSON lines go to `write` when given (tests, the agent's injected stdout), else to pino's own stdout
 * stream, buffered (the CA logs every issuance: one write system call per line cost it ~10 µs a
 * certificate): lines are written when 4 KiB have gathered or 100 ms have passed, and at exit. Text
 * lines always go through `write ?? io.out`.
 *
 * @example const log = createLogger(io, 'castellan-agent', (s) => io.out(s));
 */
export function createLogger(io: CliIo, component: string, write?: (line: string) => void): Logger {
  const level: LogLevel = choice(io, 'CASTELLAN_LOG_LEVEL', LOG_LEVELS, 'info');
  const format: LogFormat = choice(io, 'CASTELLAN_LOG_FORMAT', LOG_FORMATS, 'json');
  const options = { level, base: { component } };
  if (format === 'text') {
    const out = write ?? ((s: string) => io.out(s));
    return pino(options, { write: (s: string) => out(textLogLine(s)) });
  }
  if (write) return pino(options, { write });
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  let pending = false;
  setInterval(() => {
    if (!pending) return;
    pending = false;
    try {
      stdout.flush();
    } catch {
      // destroyed (the process is exiting, or stdout is gone): nothing left to flush to
    }
  }, 100).unref();
  return pino(options, {
    write: (line: string) => {
      pending = true;
      stdout.write(line);
    },
  });
}

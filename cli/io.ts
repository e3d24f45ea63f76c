/** What a command may touch outside its arguments; injected so tests run commands in-process. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  now(): Date;
  /**
   * Resolves once stdout can take more (what was written left the process's buffer): true, or false
   * when the reader went away (a closed pipe). Commands that write much (`audit export`) wait on it so
   * that a slow reader does not make the process buffer everything. Absent: never waits.
   */
  drained?(): Promise<boolean>;
  /** stderr is a terminal: long operations show progress there (never when piped or redirected). */
  readonly stderrIsTty?: boolean;
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The process's own stdout/stderr/env. */
export function processIo(): CliIo {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    env: process.env,
    now: () => new Date(),
    drained: () => drained(process.stdout),
    stderrIsTty: process.stderr.isTTY === true,
  };
}

function drained(s: NodeJS.WriteStream): Promise<boolean> {
  if (s.destroyed || s.writableEnded) return Promise.resolve(false);
  if (!s.writableNeedDrain) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      s.off('drain', onDrain);
      s.off('close', onClose);
      s.off('error', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    s.once('drain', onDrain);
    s.once('close', onClose);
    s.once('error', onClose);
  });
}

import { run } from '../../cli/main.js';
import type { CliIo } from '../../cli/io.js';

/**
 * Runs the castellan CLI in-process and captures what it printed. `tty`: stderr is a terminal (progress
 * is shown); `drained`: what `io.drained` answers (stdout backpressure), absent: never waits.
 */
export async function cli(
  argv: string[],
  o: { cwd?: string; now?: Date; env?: Record<string, string>; tty?: boolean; drained?: () => Promise<boolean>; onOut?: (text: string) => void } = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => {
      out += t;
      o.onOut?.(t);
    },
    err: (t) => void (err += t),
    cwd: o.cwd ?? process.cwd(),
    env: o.env ?? {},
    now: () => o.now ?? new Date(),
    ...(o.tty ? { stderrIsTty: true } : {}),
    ...(o.drained ? { drained: o.drained } : {}),
  };
  const code = await run(argv, io);
  return { code, out, err };
}

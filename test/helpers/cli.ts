import { run } from '../../cli/main.js';
import type { CliIo } from '../../cli/io.js';

/** Runs the castellan CLI in-process and captures what it printed. */
export async function cli(argv: string[], o: { cwd?: string; now?: Date; env?: Record<string, string> } = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    cwd: o.cwd ?? process.cwd(),
    env: o.env ?? {},
    now: () => o.now ?? new Date(),
  };
  const code = await run(argv, io);
  return { code, out, err };
}

import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main.js';
import type { CliIo } from '../../cli/io.js';
import { cli } from '../helpers/cli.js';

const io: CliIo = { out: () => {}, err: () => {}, cwd: process.cwd(), env: {}, now: () => new Date() };

function all(c: Command, path: string[] = []): [string[], Command][] {
  return [[path, c], ...c.commands.flatMap((s) => all(s, [...path, s.name()]))];
}

describe('--help tells the truth', async () => {
  const commands = all(await buildProgram(io)).filter(([p]) => p.length > 0);

  it('ok/every command and every option says what it is', () => {
    for (const [p, c] of commands) {
      expect(c.description(), p.join(' ')).not.toBe('');
      for (const o of c.options as readonly Option[]) expect(o.description, `${p.join(' ')} ${o.flags}`).not.toBe('');
    }
  });

  it("fail/no default is shown in the code's units (milliseconds) instead of the ones the flag takes", () => {
    for (const [p, c] of commands) expect(c.helpInformation(), p.join(' ')).not.toMatch(/\(default: \d{4,}\)/);
  });

  it('ok/every command answers --help with exit 0, and those that print JSON say so', async () => {
    for (const [p] of commands) {
      const r = await cli([...p, '--help']);
      expect(r.code, p.join(' ')).toBe(0);
      expect(r.out, p.join(' ')).toMatch(/^Usage: castellan /);
    }
    for (const p of [
      ['ca', 'init'],
      ['ca', 'mint'],
      ['token', 'mint'],
      ['root', 'prepare'],
      ['root', 'rotate-intermediate'],
      ['check'],
      ['version'],
      ['agent', 'status'],
      ['config', 'validate'],
    ]) {
      expect((await cli([...p, '--help'])).out, p.join(' ')).toMatch(/--output <format> +\w+ or json/);
    }
  });
});

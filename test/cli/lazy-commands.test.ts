// cli/main.ts loads a command's module only when that command runs (or when help is asked for its
// level): help must still list every command with its description, every command must still run, and
// `--version` and `agent` must not load what they do not use (the CA, SQLite, PostgreSQL, X.509 library).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';

const TOP = ['ca', 'cert', 'agent', 'root', 'check', 'audit', 'token', 'dev'];
const LEAVES = [
  'ca init',
  'ca mint',
  'ca serve',
  'cert inspect',
  'cert request',
  'agent',
  'root status',
  'root prepare',
  'root activate',
  'root retire',
  'check',
  'audit list',
  'audit show',
  'audit verify',
  'audit export',
  'token mint',
  'dev',
];

/** The commands listed in a help text, with their description's first words. */
function listed(help: string): Map<string, string> {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  const out = new Map<string, string>();
  for (const m of section.matchAll(/^ {2}(\S+)(?: \[options\])?(?: [<[]\S+[>\]])*\s{2,}(\S.*)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** The npm packages (CommonJS ones: those Node's require cache shows) that `castellan <argv>` loads. */
function packagesLoadedBy(argv: string[]): string[] {
  const t = tempDir();
  const entry = path.join(t.dir, 'entry.mjs');
  writeFileSync(
    entry,
    `import { createRequire } from 'node:module';
const { run } = await import(${JSON.stringify(path.resolve('cli/main.ts'))});
const io = { out: () => {}, err: () => {}, cwd: process.cwd(), env: {}, now: () => new Date() };
await run(${JSON.stringify(argv)}, io);
const names = Object.keys(createRequire(import.meta.url).cache).map((f) => /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean);
console.log(JSON.stringify([...new Set(names)]));
`,
  );
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', entry], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    // tsx (and its esbuild) run the sources here: they are the test's loader, not the CLI's.
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as string[]).filter((p) => p !== 'tsx' && p !== 'esbuild');
  } finally {
    t.cleanup();
  }
}

describe('lazy command loading', () => {
  it('ok/--help and no arguments list every command with its description', async () => {
    for (const argv of [['--help'], [], ['help']]) {
      const r = await cli(argv);
      expect(r.code).toBe(0);
      const commands = listed(r.out);
      for (const name of TOP) expect(commands.get(name), `${name} in castellan ${argv.join(' ')}`).toMatch(/\w{3,}/);
    }
    const ca = listed((await cli(['ca', '--help'])).out);
    expect([...ca.keys()]).toEqual(['init', 'mint', 'serve', 'help']);
    expect(ca.get('serve')).toMatch(/run the CA server/);
    const cert = listed((await cli(['cert', '--help'])).out);
    expect([...cert.keys()]).toEqual(['inspect', 'request', 'help']);
  });

  it('ok/every command loads and describes itself under its own --help', async () => {
    for (const leaf of LEAVES) {
      const r = await cli([...leaf.split(' '), '--help']);
      expect(r.code, `${leaf}: ${r.err}`).toBe(0);
      expect(r.out).toContain(`Usage: castellan ${leaf}`);
    }
  });

  it('ok/a command that runs works as before: ca init then cert inspect', async () => {
    const t = tempDir();
    try {
      const init = await cli(['ca', 'init', '--dir', path.join(t.dir, 'ca'), '--trust-domain', 'example.org']);
      expect(init.code, init.err).toBe(0);
      const inspect = await cli(['cert', 'inspect', path.join(t.dir, 'ca', 'bundle.pem')]);
      expect(inspect.code, inspect.err).toBe(0);
      expect(inspect.out).toContain('spiffe://example.org');
    } finally {
      t.cleanup();
    }
  });

  it('fail/an unknown command or subcommand is a usage error with a suggestion (exit 2)', async () => {
    const r = await cli(['agnet']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'agnet'[\s\S]*agent/);
    const sub = await cli(['ca', 'sevre']);
    expect(sub.code).toBe(2);
    expect(sub.err).toMatch(/serve/);
  });

  it('ok/--version loads no command; agent loads neither the CA (SQLite, PostgreSQL) nor the X.509 library', () => {
    expect(packagesLoadedBy(['--version']).sort()).toEqual(['commander']);
    const agent = packagesLoadedBy(['agent', '--help']);
    expect(agent).toContain('@grpc/grpc-js'); // it did load the agent
    for (const heavy of ['better-sqlite3', 'pg', '@peculiar/x509', 'pkcs11js', 'tsyringe']) expect(agent, heavy).not.toContain(heavy);
    const serve = packagesLoadedBy(['ca', 'serve', '--help']);
    expect(serve).toContain('better-sqlite3');
  });
});

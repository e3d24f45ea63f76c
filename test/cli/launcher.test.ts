// bin/castellan.js: `castellan agent` runs from dist/bundle/ when the bundle is at least as new as
// dist/cli/, every other command from dist/cli/ (and the agent too, with a word on stderr, when the
// bundle is older or missing) (docs/agent.md, "Memory"). Checked on a copy of the launcher over two stand-in
// builds whose `run` says which one ran.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
  mkdirSync(path.join(t.dir, 'bin'));
  copyFileSync(path.resolve('bin/castellan.js'), path.join(t.dir, 'bin', 'castellan.js'));
  writeFileSync(path.join(t.dir, 'package.json'), '{ "type": "module" }\n');
  for (const build of ['cli', 'bundle']) {
    mkdirSync(path.join(t.dir, 'dist', build), { recursive: true });
    writeFileSync(path.join(t.dir, 'dist', build, 'main.js'), `export async function run(argv) { process.stdout.write('${build} ' + argv.join(' ')); return 0; }\n`);
  }
});
afterEach(() => t.cleanup());

/** Sets a build's modification time, seconds from now. */
const age = (build: string, seconds: number) => {
  const when = new Date(Date.now() + seconds * 1000);
  utimesSync(path.join(t.dir, 'dist', build, 'main.js'), when, when);
};
const launch = (...argv: string[]) => spawnSync(process.execPath, [path.join(t.dir, 'bin', 'castellan.js'), ...argv], { encoding: 'utf8' });

describe('the launcher (bin/castellan.js)', () => {
  it('ok/the agent runs from the bundle, every other command from dist/cli/', () => {
    age('cli', -10);
    age('bundle', -5);
    expect(launch('agent', '--mode', 'node')).toMatchObject({ status: 0, stdout: 'bundle agent --mode node', stderr: '' });
    expect(launch('agent', 'status')).toMatchObject({ status: 0, stdout: 'bundle agent status' });
    expect(launch('ca', 'serve')).toMatchObject({ status: 0, stdout: 'cli ca serve', stderr: '' });
    expect(launch('--version')).toMatchObject({ status: 0, stdout: 'cli --version' });
  });

  it('fail/a bundle older than dist/cli/ (tsc without the bundling step) is not run: dist/cli/, said on stderr', () => {
    age('bundle', -10);
    age('cli', -5);
    const r = launch('agent');
    expect(r).toMatchObject({ status: 0, stdout: 'cli agent' });
    expect(r.stderr).toMatch(/dist\/bundle\/ is older than dist\/cli\/ \(run `npm run build`\)/);
  });

  it('fail/no bundle at all: the agent runs from dist/cli/, said on stderr', () => {
    rmSync(path.join(t.dir, 'dist', 'bundle'), { recursive: true });
    const r = launch('agent');
    expect(r).toMatchObject({ status: 0, stdout: 'cli agent' });
    expect(r.stderr).toMatch(/no dist\/bundle\/ \(run `npm run build`\)/);
  });
});

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/test-ca.js';

const haveGit = spawnSync('git', ['--version']).status === 0;
if (!haveGit) console.log('skipping the git cases of write-build-info: `git` is not installed');

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir('castellan-build-info-');
});
afterEach(() => t.cleanup());

/** A copy of the package's build-info script in `dir` (with a package.json), as a checkout or tarball would hold it. */
function packageIn(dir: string): void {
  mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  copyFileSync('scripts/write-build-info.mjs', path.join(dir, 'scripts', 'write-build-info.mjs'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'castellan', version: '9.8.7' }));
}

function build(dir: string, env: Record<string, string> = {}): { version: string; commit: string } {
  const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'write-build-info.mjs')], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(readFileSync(path.join(dir, 'dist', 'build-info.json'), 'utf8')) as { version: string; commit: string };
}

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' }).trim();

describe('scripts/write-build-info.mjs (castellan_build_info)', () => {
  it('ok/no git repository (a tarball): commit "unknown", version from package.json, exit 0', () => {
    packageIn(t.dir);
    expect(build(t.dir)).toEqual({ version: '9.8.7', commit: 'unknown' });
  });

  it('ok/no git binary at all: commit "unknown", exit 0', () => {
    packageIn(t.dir);
    expect(build(t.dir, { PATH: path.join(t.dir, 'no-such-bin') })).toEqual({ version: '9.8.7', commit: 'unknown' });
  });

  it('ok/CASTELLAN_BUILD_COMMIT (an image build without .git) wins', () => {
    packageIn(t.dir);
    expect(build(t.dir, { CASTELLAN_BUILD_COMMIT: 'abc123' }).commit).toBe('abc123');
  });

  it.skipIf(!haveGit)('ok/its own checkout: HEAD, and "-dirty" once a tracked file changes', () => {
    packageIn(t.dir);
    git(t.dir, 'init', '-q');
    git(t.dir, 'add', '-A');
    git(t.dir, 'commit', '-qm', 'first');
    const head = git(t.dir, 'rev-parse', 'HEAD');
    expect(build(t.dir).commit).toBe(head);
    writeFileSync(path.join(t.dir, 'package.json'), JSON.stringify({ name: 'castellan', version: '9.8.8' }));
    expect(build(t.dir)).toEqual({ version: '9.8.8', commit: `${head}-dirty` });
  });

  it.skipIf(!haveGit)("ok/installed inside another project's repository: not that project's commit", () => {
    git(t.dir, 'init', '-q');
    writeFileSync(path.join(t.dir, 'README'), 'another project\n');
    git(t.dir, 'add', '-A');
    git(t.dir, 'commit', '-qm', 'theirs');
    const pkg = path.join(t.dir, 'node_modules', 'castellan');
    packageIn(pkg);
    expect(build(pkg).commit).toBe('unknown');
  });
});

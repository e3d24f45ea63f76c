#!/usr/bin/env node
// Writes dist/build-info.json ({"version", "commit"}) for `castellan_build_info` (docs/observability.md).
// Run by `npm run build` (and so by `npm ci`). The commit comes from CASTELLAN_BUILD_COMMIT when set
// (image builds without .git pass it in), else from `git rev-parse HEAD` of this package's own checkout
// (suffixed "-dirty" when tracked files differ from it), else "unknown". It never fails the build.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function git(...args) {
  return execFileSync('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 })
    .toString()
    .trim();
}

function commit() {
  const fromEnv = process.env.CASTELLAN_BUILD_COMMIT?.trim();
  if (fromEnv) return fromEnv;
  try {
    // Only this package's own checkout: installed inside another project's repository, `git rev-parse`
    // would name that project's commit.
    if (realpathSync(git('rev-parse', '--show-toplevel')) !== realpathSync(root)) return 'unknown';
    const head = git('rev-parse', 'HEAD');
    if (!/^[0-9a-f]{40,64}$/.test(head)) return 'unknown';
    return git('status', '--porcelain', '--untracked-files=no') === '' ? head : `${head}-dirty`;
  } catch {
    return 'unknown'; // no git, or not a checkout (a tarball)
  }
}

mkdirSync(path.join(root, 'dist'), { recursive: true });
writeFileSync(path.join(root, 'dist', 'build-info.json'), `${JSON.stringify({ version, commit: commit() })}\n`);

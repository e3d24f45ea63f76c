#!/usr/bin/env node
// The compiled CLI; `npm ci` builds dist/ through the package's prepare script. `castellan agent` runs
// from the bundle of the same code (scripts/bundle-cli.mjs; docs/agent.md, "Memory"), every other
// command from dist/ as compiled.
import { existsSync, statSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const bundled = new URL('../dist/bundle/main.js', import.meta.url);

/**
 * The bundle when the agent runs and the bundle is at least as new as the compiled code: a `tsc` alone
 * (without the bundling step of `npm run build`) leaves an older bundle behind, which must not run
 * code the sources no longer hold. Then, or without a bundle, the agent runs from dist/, saying why.
 */
function entry() {
  if (process.argv[2] !== 'agent') return compiled;
  if (existsSync(bundled) && statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs) return bundled;
  const why = existsSync(bundled) ? 'dist/bundle/ is older than dist/cli/' : 'no dist/bundle/';
  process.stderr.write(`castellan: ${why} (run \`npm run build\`); running the agent from dist/cli/\n`);
  return compiled;
}

const { run } = await import(entry().href);

// `castellan ... | head` closes the pipe early: that is the reader's choice, not our failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await run(process.argv.slice(2));

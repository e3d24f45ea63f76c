#!/usr/bin/env node
// The compiled CLI; `npm ci` builds dist/ through the package's prepare script. `castellan agent` runs
// from the bundle of the same code (scripts/bundle-cli.mjs; docs/agent.md, "Memory"), every other
// command from dist/ as compiled.
import { existsSync } from 'node:fs';

const bundled = new URL('../dist/bundle/main.js', import.meta.url);
const { run } = await import(process.argv[2] === 'agent' && existsSync(bundled) ? bundled.href : '../dist/cli/main.js');

// `castellan ... | head` closes the pipe early: that is the reader's choice, not our failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await run(process.argv.slice(2));

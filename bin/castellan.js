#!/usr/bin/env node
// The compiled CLI; `npm ci` builds dist/ through the package's prepare script.
import { run } from '../dist/cli/main.js';

// `castellan ... | head` closes the pipe early: that is the reader's choice, not our failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await run(process.argv.slice(2));

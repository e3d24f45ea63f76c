#!/usr/bin/env node
// The `castellan` command (package.json "bin"). CommonJS, so that it runs before Node's ES module loader
// first uses libuv's thread pool, whose size is read once, then: a CA server (`ca serve`, `dev`) gets
// one pool thread per core but the event loop's, 2 to 4 (not 1: a slow DNS lookup or file read would
// then hold every signature), instead of libuv's 4
// (docs/architecture.md §4; measured in docs/benchmarks.md). A UV_THREADPOOL_SIZE in the environment
// is kept. Then the CLI itself (castellan.js, which may also be run directly, with libuv's pool).
'use strict';
const { availableParallelism } = require('node:os');

const args = process.argv.slice(2);
const servesCa = args[0] === 'dev' || args.some((a, i) => a === 'ca' && args[i + 1] === 'serve');
if (servesCa && process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(4, Math.max(2, availableParallelism() - 1)));
}
import('./castellan.js').catch((err) => {
  process.stderr.write(`castellan: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

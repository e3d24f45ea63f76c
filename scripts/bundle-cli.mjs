#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) into dist/bundle/, one chunk per command plus the chunks
// they share (esbuild: minified, code split). Run by `npm run build` after tsc. bin/castellan.js runs
// `castellan agent` from it: an agent runs beside every pod, and its memory is mostly the source text
// and compiled code of what it loaded (docs/agent.md, "Memory"); one minified chunk of only what the
// agent reaches holds less than the ~600 modules it would otherwise load. The other commands run from
// dist/ as compiled.
//
// Castellan's own modules are marked free of import side effects, so a module the agent imports only
// for one export does not bring along what its other exports need; native modules stay external.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

const main = path.join(dist, 'cli', 'main.js');
/**
 * What cli/main.ts imports on demand that `castellan agent` may load: its command modules, and the
 * failure reporter (exit codes, messages); everything else main.ts imports on demand (the other
 * commands, the CA's key providers) stays in dist/.
 */
const AGENT_LOADS = new Set(['./agent.js', './agent-status.js', './exit-codes.js']);
const bundleDir = path.join(dist, 'bundle');

/**
 * Relative imports between Castellan's compiled modules: resolved here and marked side-effect free. The
 * command modules the agent does not load are left out: imported, if ever, from dist/cli/ at run time.
 * A package imported on demand (the YAML parser for a --config file, the Kubernetes client, the X.509
 * library) is left out too and loaded from node_modules by Node when asked for: it costs nothing until
 * then, and Node's own loader gives a CommonJS package's named exports, which esbuild's chunks would not
 * (a bundled `await import('yaml')` has no `parseDocument`).
 */
const ownModules = {
  name: 'castellan-modules',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.kind === 'dynamic-import' && !args.path.startsWith('node:') ? { path: args.path, external: true } : undefined));
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!args.importer.startsWith(`${dist}${path.sep}`)) return undefined;
      const target = path.resolve(path.dirname(args.importer), args.path);
      if (args.importer === main && args.kind === 'dynamic-import' && !AGENT_LOADS.has(args.path)) {
        return { path: `./${path.relative(bundleDir, target)}`, external: true };
      }
      return { path: target, sideEffects: false };
    });
  },
};

// Chunk names carry content hashes: start empty, so no chunk of an earlier build is left behind.
rmSync(bundleDir, { recursive: true, force: true });

const result = await build({
  entryPoints: [main],
  outdir: bundleDir,
  bundle: true,
  // Code the agent may never run (the YAML parser for a --config file, node mode's Kubernetes client) in chunks of its own.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Error classes and commands are named in messages and logs.
  keepNames: true,
  legalComments: 'none',
  // Native addons (and pg's optional native binding) load from node_modules as they are.
  external: ['better-sqlite3', 'pkcs11js', 'pg-native'],
  // CommonJS dependencies call require(): give the ES module chunks one.
  banner: { js: "import { createRequire as __castellanRequire } from 'node:module'; const require = __castellanRequire(import.meta.url);" },
  plugins: [ownModules],
  absWorkingDir: root,
  logLevel: 'warning',
  metafile: true,
});

// dist/bundle/contents.json: what each chunk holds, by npm package and by Castellan module (relative to
// dist/), so that a test can tell what a running agent holds from the chunks it loaded.
const contents = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  const packages = new Set();
  const modules = [];
  for (const input of Object.keys(output.inputs)) {
    const pkg = /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (pkg) packages.add(pkg);
    else if (input.startsWith('dist/')) modules.push(input.slice('dist/'.length));
  }
  contents[path.basename(file)] = { bytes: output.bytes, packages: [...packages].sort(), modules: modules.sort() };
}
writeFileSync(path.join(bundleDir, 'contents.json'), `${JSON.stringify(contents, null, 1)}\n`);

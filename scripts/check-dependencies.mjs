// Checks the project's layering (docs/architecture.md §1) with dependency-cruiser: the forbidden rules of
// .dependency-cruiser.cjs (cycles, workload-identity, proto-types <- ca, sds <- cli), and that a folder is
// entered only through its index.ts: a module may import files of its own folder and of the folders above
// it, and any other folder only by that folder's index.ts. Inside proto-types/ the generated files import
// each other as the generator lays them out (proto-types/index.ts is still the only way in). Exit 1
// listing every violation.
import { createRequire } from 'node:module';
import path from 'node:path';
import { cruise } from 'dependency-cruiser';

const require = createRequire(import.meta.url);
const config = require('../.dependency-cruiser.cjs');
const roots = ['workload-identity', 'proto-types', 'ca', 'sds', 'cli'];
const result = await cruise(roots, { ...config.options, validate: true, ruleSet: { forbidden: config.forbidden } });
const out = result.output;
const problems = [];
for (const v of out.summary.violations) problems.push(`${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name ?? c).join(' -> ')})` : ''}`);
const ours = (p) => roots.some((r) => p.startsWith(`${r}/`));
const generated = (p) => p.startsWith('proto-types/');
for (const m of out.modules) {
  if (!ours(m.source)) continue;
  const from = path.posix.dirname(m.source);
  for (const d of m.dependencies) {
    const to = d.resolved;
    if (!ours(to) || (generated(m.source) && generated(to))) continue;
    const dir = path.posix.dirname(to);
    const inside = from === dir || from.startsWith(`${dir}/`);
    if (!inside && path.posix.basename(to) !== 'index.ts') problems.push(`folder-internals: ${m.source} -> ${to} (import ${dir}/index.ts instead)`);
  }
}
if (problems.length > 0) {
  console.error(`dependencies: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`dependencies: ${out.summary.totalCruised} modules, layering and folder boundaries hold, no cycles`);

// npx tsx bench/cpuprofile-summary.ts <file.cpuprofile> [top=30] — what a V8 CPU profile spent its time on:
// the top functions and modules by self time, and the top functions by inclusive time (each function
// counted once per sample). Profiles come from `node --cpu-prof --cpu-prof-dir=DIR bin/castellan.js ca
// serve ...` (one file per thread: the main thread's and the SQLite writer's) or BENCH_PROFILE=f in bench:ca.
//
// The profiler samples wall-clock time on the thread it profiles: when the machine is saturated, a
// native call that wakes another thread (an async crypto.sign/verify, a worker postMessage) is charged
// for the time the kernel ran that thread instead. Compare with the per-thread CPU from /proc.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/cpuprofile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** A script's short name: `npm:<package>`, a path under dist/ or the checkout, or `(native/vm)`. */
function moduleOf(url: string): string {
  if (!url) return '(native/vm)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const [a, b] = u.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${a!.startsWith('@') ? `${a}/${b}` : a}`;
  }
  const dist = u.indexOf('/dist/');
  return dist >= 0 ? u.slice(dist + '/dist/'.length) : u.replace(`${process.cwd()}/`, '');
}
const nameOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${moduleOf(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

const self = new Map<string, number>();
const modules = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let busy = 0;
const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
for (let i = 0; i < p.samples.length; i++) {
  const us = p.timeDeltas[i + 1] ?? 0;
  const leaf = byId.get(p.samples[i]!)!;
  total += us;
  add(self, nameOf(leaf), us);
  add(modules, moduleOf(leaf.callFrame.url), us);
  if (IDLE.has(leaf.callFrame.functionName)) continue;
  busy += us;
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const k = nameOf(byId.get(id)!);
    if (!seen.has(k)) {
      seen.add(k);
      add(inclusive, k, us);
    }
  }
}
const print = (title: string, m: Map<string, number>, n: number, of: number) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(us / 1e3).toFixed(0).padStart(8)} ms ${((100 * us) / of).toFixed(1).padStart(5)} %  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (not idle, (program) or GC)`);
print(`top ${top} functions by self time (% of all samples)`, self, top, total);
print('top modules by self time (% of all samples)', modules, 20, total);
print(`top ${top} functions by inclusive time (% of busy samples)`, inclusive, top, busy);

// `npm run fuzz [-- vitest arguments]`: every fuzz property (test/**/*.fuzz.test.ts) with more cases
// than CI runs and a fresh seed, printed first so a failure can be replayed (docs/fuzzing.md).
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const env = { ...process.env };
if (env['CASTELLAN_FUZZ_SEED'] === undefined || env['CASTELLAN_FUZZ_SEED'] === '' || env['CASTELLAN_FUZZ_SEED'] === 'random') {
  env['CASTELLAN_FUZZ_SEED'] = String(randomInt(-0x80000000, 0x7fffffff));
}
if (env['CASTELLAN_FUZZ_RUNS'] === undefined) env['CASTELLAN_FUZZ_SCALE'] ??= '20';
const shown = ['CASTELLAN_FUZZ_SEED', 'CASTELLAN_FUZZ_SCALE', 'CASTELLAN_FUZZ_RUNS', 'CASTELLAN_FUZZ_TIME_LIMIT_S'].filter((k) => env[k] !== undefined);
console.log(`fuzz: ${shown.map((k) => `${k}=${env[k]}`).join(' ')}`);

const args = process.argv.slice(2);
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
// No per-test timeout: a long run takes as long as its cases do; each case is still bounded (fuzz.ts).
const r = spawnSync(process.execPath, [vitest, 'run', ...(args.some((a) => !a.startsWith('-')) ? [] : ['fuzz.test']), '--testTimeout', '0', ...args], { stdio: 'inherit', env });
console.log(`fuzz: seed was CASTELLAN_FUZZ_SEED=${env['CASTELLAN_FUZZ_SEED']}`);
process.exit(r.status ?? 1);

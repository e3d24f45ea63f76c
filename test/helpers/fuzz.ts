import vm from 'node:vm';
import fc from 'fast-check';
import { CastellanError } from '../../workload-identity/index.js';

/**
 * Seed and size of every fuzz property (`test/**\/*.fuzz.test.ts`, docs/fuzzing.md):
 * - `CASTELLAN_FUZZ_SEED`: the seed (an integer), or `random` for a fresh one, printed. Default
 *   {@link DEFAULT_FUZZ_SEED}, so CI runs the same cases every time.
 * - `CASTELLAN_FUZZ_RUNS`: cases per property, for every property (default: each property's own CI count).
 * - `CASTELLAN_FUZZ_SCALE`: multiplies each property's CI count instead (default 1).
 * - `CASTELLAN_FUZZ_PATH`: with the seed, replays one failing case (fast-check's `path`; run one test).
 * - `CASTELLAN_FUZZ_TIME_LIMIT_S`: stops a property after this many seconds (long runs), counting it passed.
 */
export const DEFAULT_FUZZ_SEED = 0x0ca57e11;

interface FuzzSettings {
  readonly seed: number;
  readonly runs?: number;
  readonly scale: number;
  readonly path?: string;
  readonly timeLimitMs?: number;
}

let settings: FuzzSettings | undefined;

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0)) throw new TypeError(`${name}=${JSON.stringify(text)} must be a positive number`);
  return n;
}

/** The settings from the environment, read once per test file (a random seed is printed once). */
export function fuzzSettings(): FuzzSettings {
  if (settings) return settings;
  const env = process.env;
  const seedText = env['CASTELLAN_FUZZ_SEED'];
  let seed = DEFAULT_FUZZ_SEED;
  if (seedText === 'random') {
    seed = (Date.now() ^ (Math.random() * 0x100000000)) | 0;
    console.log(`fuzz: CASTELLAN_FUZZ_SEED=${seed}`);
  } else if (seedText !== undefined && seedText !== '') {
    seed = Number(seedText);
    if (!Number.isInteger(seed)) throw new TypeError(`CASTELLAN_FUZZ_SEED=${JSON.stringify(seedText)} must be an integer or "random"`);
  }
  const runs = positive('CASTELLAN_FUZZ_RUNS', env['CASTELLAN_FUZZ_RUNS']);
  const timeLimit = positive('CASTELLAN_FUZZ_TIME_LIMIT_S', env['CASTELLAN_FUZZ_TIME_LIMIT_S']);
  const path = env['CASTELLAN_FUZZ_PATH'];
  settings = {
    seed,
    scale: positive('CASTELLAN_FUZZ_SCALE', env['CASTELLAN_FUZZ_SCALE']) ?? 1,
    ...(runs === undefined ? {} : { runs: Math.round(runs) }),
    ...(path ? { path } : {}),
    ...(timeLimit === undefined ? {} : { timeLimitMs: timeLimit * 1000 }),
  };
  return settings;
}

/**
 * fast-check parameters for one property that runs `ciRuns` cases in CI. `caseTimeoutMs` bounds one
 * asynchronous case (a hang fails the property with its seed and path); synchronous code is bounded
 * with {@link bounded} instead, which fast-check cannot interrupt.
 *
 * @example await fc.assert(fc.asyncProperty(arb, check), fuzzParams(200, { caseTimeoutMs: 10_000 }));
 */
export function fuzzParams<T>(ciRuns: number, o: { caseTimeoutMs?: number } = {}): fc.Parameters<T> {
  const s = fuzzSettings();
  const plugins = [...(o.caseTimeoutMs === undefined ? [] : [fc.timeout(o.caseTimeoutMs)]), ...(s.timeLimitMs === undefined ? [] : [fc.interruptAfterTimeLimit(s.timeLimitMs)])];
  return {
    seed: s.seed,
    numRuns: s.runs ?? Math.max(1, Math.round(ciRuns * s.scale)),
    ...(s.path === undefined ? {} : { path: s.path, endOnFailure: true }),
    ...(plugins.length > 0 ? { plugins } : {}),
  };
}

/**
 * True when a property runs at least its CI count of cases: only then do the checks that the generators
 * reached both sides (some input accepted, some key served) hold; a short run may miss them by chance.
 *
 * @example if (reachesCiCount(1500)) expect(accepted).toBeGreaterThan(0);
 */
export function reachesCiCount(ciRuns: number): boolean {
  return (fuzzParams(ciRuns).numRuns ?? 0) >= ciRuns;
}

const context = vm.createContext({ run: undefined as (() => unknown) | undefined });
const runScript = new vm.Script('run()');

/**
 * Runs synchronous `fn` and throws ERR_SCRIPT_EXECUTION_TIMEOUT (a hang: an endless loop, a regex that
 * backtracks without end) if it is still running after `limitMs`. What `fn` throws is rethrown as is.
 * The limit is a safety net for hangs, generous for a busy machine: it never measures speed.
 *
 * @example const outcome = bounded(() => parseCsr(bytes));
 */
export function bounded<T>(fn: () => T, limitMs = 5_000): T {
  context['run'] = fn;
  try {
    return runScript.runInContext(context, { timeout: limitMs }) as T;
  } finally {
    context['run'] = undefined;
  }
}

/** What a case returned or threw, with a hang rethrown (it must fail the property). */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** {@link bounded}, with the thrown error returned as an outcome (a hang still throws). */
export function outcomeOf<T>(fn: () => T, limitMs?: number): Outcome<T> {
  let result: Outcome<T> | undefined;
  bounded(() => {
    try {
      result = { ok: true, value: fn() };
    } catch (error) {
      result = { ok: false, error };
    }
  }, limitMs);
  return result!;
}

/** The outcome of a promise. */
export async function asyncOutcomeOf<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Throws unless `error` is a CastellanError whose code is one of `codes` (or matches `codes`): the
 * property every refusal must have. Anything else (TypeError, RangeError, a library's own error) is a
 * finding, rethrown with its stack so the failing case shows where it came from.
 */
export function expectCoded(error: unknown, codes: readonly string[] | RegExp): asserts error is CastellanError {
  if (!(error instanceof CastellanError)) {
    const e = error instanceof Error ? error : new Error(String(error));
    throw new Error(`fuzz: want a CastellanError, got ${e.name}: ${e.message}\n${e.stack ?? ''}`, { cause: error });
  }
  const ok = Array.isArray(codes) ? codes.includes(error.code) : (codes as RegExp).test(error.code);
  if (!ok) throw new Error(`fuzz: unexpected code ${error.code} (${error.message})`, { cause: error });
}

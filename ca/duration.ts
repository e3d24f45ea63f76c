import { DURATION_UNIT_MS } from '../workload-identity/index.js';

// The parser is shared with the agent (workload-identity/duration.ts); re-exported under its old name.
export { parseDuration } from '../workload-identity/index.js';

const UNIT_MS = DURATION_UNIT_MS;

/**
 * Formats milliseconds for people: the two largest units, e.g. `23h59m`, `9y364d`, `45s`.
 *
 * @example formatDuration(5_400_000) // '1h30m'
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.floor(ms)}ms`;
  const units: [string, number][] = [
    ['y', UNIT_MS.y!],
    ['d', UNIT_MS.d!],
    ['h', UNIT_MS.h!],
    ['m', UNIT_MS.m!],
    ['s', UNIT_MS.s!],
  ];
  const out: string[] = [];
  let rest = ms;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || out.length > 0) {
      if (n > 0) out.push(`${n}${name}`);
      rest -= n * size;
      if (out.length === 2 || (out.length === 1 && n === 0)) break;
    }
  }
  return out.join('') || '0s';
}

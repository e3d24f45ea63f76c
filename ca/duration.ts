import { caError } from './errors.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * Parses a duration written like Go's `time.ParseDuration` (as in Kubernetes and Istio configuration),
 * extended with `d` (24 h) and `y` (365 d) for CA lifetimes: `90s`, `1h30m`, `24h`, `10y`.
 * A bare number is refused: a unit is always required, so `24` cannot silently mean 24 ms.
 *
 * @example parseDuration('1h30m') // 5_400_000
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '') throw caError('ERR_DURATION', 'duration: empty value, want e.g. "24h", "90m", "10y"');
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|y)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    part.lastIndex = at;
    const m = part.exec(s);
    if (!m) throw caError('ERR_DURATION', `duration: "${text}" is not a duration, want e.g. "24h", "90m", "1h30m", "10y"`);
    total += Number(m[1]) * (UNIT_MS[m[2]!] as number);
    at = part.lastIndex;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw caError('ERR_DURATION', `duration: "${text}" is too large`);
  }
  return Math.round(total);
}

/**
 * Formats milliseconds for people: the two largest units, e.g. `23h59m`, `9y364d`, `45s`.
 *
 * @example formatDuration(5_400_000) // '1h30m'
 */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.floor(ms)}ms`;
  const units: [string, number][] = [['y', UNIT_MS.y!], ['d', UNIT_MS.d!], ['h', UNIT_MS.h!], ['m', UNIT_MS.m!], ['s', UNIT_MS.s!]];
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

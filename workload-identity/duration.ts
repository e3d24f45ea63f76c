import { CastellanError } from './errors.js';

/** Error code of `parseDuration`. */
export type DurationErrorCode = 'ERR_DURATION';

/** Milliseconds per unit of `parseDuration`. */
export const DURATION_UNIT_MS: Readonly<Record<'ms' | 's' | 'm' | 'h' | 'd' | 'y', number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * Parses a duration written like Go's `time.ParseDuration` (as in Kubernetes and Istio configuration),
 * extended with `d` (24 h) and `y` (365 d) for CA lifetimes: `90s`, `1h30m`, `24h`, `10y`. The one
 * parser of the CA's and the agent's configuration and flags. A bare number is refused: a unit is always
 * required, so `24` cannot silently mean 24 ms. Throws ERR_DURATION.
 *
 * @example parseDuration('1h30m') // 5_400_000
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '') throw new CastellanError<DurationErrorCode>('ERR_DURATION', 'duration: empty value, want e.g. "24h", "90m", "10y"');
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|y)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    part.lastIndex = at;
    const m = part.exec(s);
    if (!m) throw new CastellanError<DurationErrorCode>('ERR_DURATION', `duration: "${text}" is not a duration, want e.g. "24h", "90m", "1h30m", "10y"`);
    total += Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS];
    at = part.lastIndex;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw new CastellanError<DurationErrorCode>('ERR_DURATION', `duration: "${text}" is too large`);
  }
  return Math.round(total);
}

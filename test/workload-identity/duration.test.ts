import { describe, expect, it } from 'vitest';
import { parseDuration as caParseDuration } from '../../ca/index.js';
import { parseDuration } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';

describe('parseDuration (shared by the CA and the agent)', () => {
  it('ok/Go-style durations with d and y', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration(' 1.5s ')).toBe(1_500);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('10y')).toBe(10 * 365 * 86_400_000);
    expect(caParseDuration).toBe(parseDuration);
  });

  it('fail/anything else is ERR_DURATION', () => {
    for (const bad of ['', '10', '1x', 'h1', '-1s', '1h 30m', `${'9'.repeat(400)}y`])
      expect(
        codeOf(() => parseDuration(bad)),
        bad,
      ).toBe('ERR_DURATION');
  });
});

import { describe, expect, it } from 'vitest';
import {
  checkChoice,
  checkDuration,
  checkFields,
  checkHostPort,
  checkNumber,
  checkPositiveDuration,
  checkText,
  durationField,
  hostPortField,
  positiveDurationField,
  textThen,
} from '../../workload-identity/index.js';

/** The zod field's outcome, in the shape of a check's. */
function viaZod(field: typeof durationField | typeof hostPortField, v: unknown) {
  const r = field.safeParse(v);
  return r.success ? { value: r.data } : { problem: r.error.issues[0]!.message };
}

describe('configuration value checks', () => {
  it('ok/the CA (zod fields) and the agent (checks) accept and refuse the same spellings with the same messages', () => {
    const texts = ['24h', '1h30m', '0s', '', '10', 'soon', '1x', '127.0.0.1:15012', '[::1]:1', 'ca:65535', 'ca:65536', 'no-port', 'a:b', ' ca:1'];
    for (const s of texts) {
      expect(viaZod(durationField, s), s).toEqual(checkDuration(s));
      expect(viaZod(positiveDurationField, s), s).toEqual(checkPositiveDuration(s));
      expect(viaZod(hostPortField, s), s).toEqual(checkHostPort(s));
    }
    expect(checkDuration('90m')).toEqual({ value: 5_400_000 });
    expect(checkPositiveDuration('0s')).toEqual({ problem: 'must be longer than 0' });
    expect(checkHostPort('ca:65536')).toEqual({ problem: 'the port must be at most 65535' });
  });

  it('fail/each check names what it wanted and what it got', () => {
    expect(checkText(5)).toEqual({ problem: 'Invalid input: expected string, received number' });
    expect(checkText('', { min: 1 }).problem).toMatch(/>=1 characters/);
    expect(checkText('abcd', { max: 3 }).problem).toMatch(/<=3 characters/);
    expect(checkChoice('z', ['x', 'y'])).toEqual({ problem: 'Invalid option: expected one of "x"|"y"' });
    expect(checkNumber('0.5', { gt: 0, lt: 1 })).toEqual({ value: 0.5 });
    for (const bad of ['', ' ', 'x', null, true, [], Number.NaN, Number.POSITIVE_INFINITY]) expect(checkNumber(bad).problem, String(bad)).toMatch(/expected number/);
    expect(checkNumber(1, { lt: 1 }).problem).toMatch(/<1/);
    expect(checkNumber(-0.1, { min: 0 }).problem).toMatch(/>=0/);
    expect(textThen(checkDuration)(60)).toEqual({ problem: 'Invalid input: expected string, received number' });
  });

  it('ok/checkFields: values of the known keys, every problem by key, unknown keys and non-mappings refused', () => {
    const fields = { ttl: textThen(checkDuration), mode: (v: unknown) => checkChoice(v, ['a', 'b'] as const) };
    expect(checkFields({ ttl: '1m', mode: 'a', skipped: undefined }, { ...fields, skipped: textThen(checkDuration) })).toEqual({
      values: { ttl: 60_000, mode: 'a' },
      problems: [],
    });
    expect(checkFields({ ttl: 'x', mode: 'c', extra: 1, more: 2 }, fields).problems).toEqual([
      { key: 'ttl', problem: '"x" is not a duration (want e.g. "24h", "90m")' },
      { key: 'mode', problem: 'Invalid option: expected one of "a"|"b"' },
      { problem: 'Unrecognized keys: "extra", "more"' },
    ]);
    for (const raw of [null, [], 'x', 3]) expect(checkFields(raw, fields).problems).toHaveLength(1);
    // A key named like an Object.prototype member is unknown, not a check.
    expect(checkFields({ toString: 'x', __proto__: 'y' }, fields).problems).toEqual([{ problem: 'Unrecognized key: "toString"' }]);
  });
});

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
  it('ok/the CA (zod fields) and the agent (checks) accept and refuse the same spellings with the messages they always had', () => {
    const NOT = (s: string) => ({ problem: `"${s}" is not a duration (want e.g. "24h", "90m")` });
    const HOST = { problem: 'want host:port, e.g. 127.0.0.1:15012' };
    // [text, checkDuration, checkPositiveDuration, checkHostPort]: the outcomes of the zod fields before they were built on the checks.
    const table: [string, unknown, unknown, unknown][] = [
      ['24h', { value: 86_400_000 }, { value: 86_400_000 }, HOST],
      ['1h30m', { value: 5_400_000 }, { value: 5_400_000 }, HOST],
      ['0s', { value: 0 }, { problem: 'must be longer than 0' }, HOST],
      ['', NOT(''), NOT(''), HOST],
      ['10', NOT('10'), NOT('10'), HOST],
      ['soon', NOT('soon'), NOT('soon'), HOST],
      ['127.0.0.1:15012', NOT('127.0.0.1:15012'), NOT('127.0.0.1:15012'), { value: '127.0.0.1:15012' }],
      ['[::1]:1', NOT('[::1]:1'), NOT('[::1]:1'), { value: '[::1]:1' }],
      ['ca:65535', NOT('ca:65535'), NOT('ca:65535'), { value: 'ca:65535' }],
      ['ca:65536', NOT('ca:65536'), NOT('ca:65536'), { problem: 'the port must be at most 65535' }],
      ['no-port', NOT('no-port'), NOT('no-port'), HOST],
      [' ca:1', NOT(' ca:1'), NOT(' ca:1'), HOST],
    ];
    for (const [s, duration, positive, hostPort] of table) {
      expect([checkDuration(s), checkPositiveDuration(s), checkHostPort(s)], s).toEqual([duration, positive, hostPort]);
      expect([viaZod(durationField, s), viaZod(positiveDurationField, s), viaZod(hostPortField, s)], s).toEqual([duration, positive, hostPort]);
    }
  });

  it('fail/each check names what it wanted and what it got', () => {
    expect(checkText(5)).toEqual({ problem: 'Invalid input: expected string, received number' });
    expect(checkText('', { min: 1 }).problem).toMatch(/>=1 characters/);
    expect(checkText('abcd', { max: 3 }).problem).toMatch(/<=3 characters/);
    expect(checkChoice('z', ['x', 'y'])).toEqual({ problem: 'Invalid option: expected one of "x"|"y"' });
    expect(checkNumber('0.5', { gt: 0, lt: 1 })).toEqual({ value: 0.5 });
    for (const bad of ['', ' ', 'x', null, true, [], Number.NaN, Number.POSITIVE_INFINITY]) expect(checkNumber(bad).problem, String(bad)).toMatch(/expected number/);
    expect(checkNumber(Number.NEGATIVE_INFINITY).problem).toBe('Invalid input: expected number, received -Infinity');
    expect(checkNumber('abc').problem).toBe('Invalid input: expected number, received "abc"');
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
    // A key named like an Object.prototype member is unknown, not a check (JSON.parse makes `__proto__` an own key, as a YAML or JSON file does).
    expect(checkFields(JSON.parse('{"toString": "x", "__proto__": {"ttl": "1m"}, "constructor": 1}'), fields)).toEqual({
      values: {},
      problems: [{ problem: 'Unrecognized keys: "toString", "__proto__", "constructor"' }],
    });
  });
});

import { parseDuration } from './duration.js';

/**
 * The checks behind the configuration field types, as plain functions: config-fields.ts wraps them for
 * the CA's zod schemas, and the agent's configuration (which does not load zod, docs/agent.md) calls them
 * directly, so both accept and reject the same spellings with the same messages
 * (docs/architecture.md §10). A check returns the value, or a problem phrased for an operator.
 *
 * @example checkDuration('90m') // { value: 5_400_000 }
 */
export type Checked<T> = { readonly value: T; readonly problem?: undefined } | { readonly problem: string };

/** A duration such as `24h`, `90m`, `1d` (parseDuration), as milliseconds. */
export function checkDuration(text: string): Checked<number> {
  try {
    return { value: parseDuration(text) };
  } catch {
    return { problem: `"${text}" is not a duration (want e.g. "24h", "90m")` };
  }
}

/**
 * A duration longer than zero, for intervals and lifetimes where 0 would mean a busy loop (a poll or
 * retry every tick) or something that expires as it is made.
 */
export function checkPositiveDuration(text: string): Checked<number> {
  const d = checkDuration(text);
  return d.problem !== undefined || d.value > 0 ? d : { problem: 'must be longer than 0' };
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** `host:port`, with an IPv6 host in brackets; the text as written (parseHostPort splits it). */
export function checkHostPort(text: string): Checked<string> {
  if (!HOST_PORT.test(text)) return { problem: 'want host:port, e.g. 127.0.0.1:15012' };
  if (Number(text.slice(text.lastIndexOf(':') + 1)) > 65_535) return { problem: 'the port must be at most 65535' };
  return { value: text };
}

/** What a value is, in the words of the messages below (`null`, `array`, `NaN`, `Infinity`, `number` ...). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return typeof v;
}

/** A string of `min` to `max` characters. */
export function checkText(v: unknown, o: { min?: number; max?: number } = {}): Checked<string> {
  if (typeof v !== 'string') return { problem: `Invalid input: expected string, received ${kindOf(v)}` };
  if (o.min !== undefined && v.length < o.min) return { problem: `Too small: expected string to have >=${o.min} characters` };
  if (o.max !== undefined && v.length > o.max) return { problem: `Too big: expected string to have <=${o.max} characters` };
  return { value: v };
}

/** One of `choices`, spelled exactly. */
export function checkChoice<C extends string>(v: unknown, choices: readonly C[]): Checked<C> {
  return typeof v === 'string' && (choices as readonly string[]).includes(v)
    ? { value: v as C }
    : { problem: `Invalid option: expected one of ${choices.map((c) => JSON.stringify(c)).join('|')}` };
}

/**
 * A number, or a string holding one (flags and CASTELLAN_* variables are text), within the bounds:
 * `gt`/`lt` exclusive, `min` inclusive.
 */
export function checkNumber(v: unknown, o: { gt?: number; min?: number; lt?: number } = {}): Checked<number> {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) return { problem: `Invalid input: expected number, received ${typeof v === 'string' ? JSON.stringify(v) : kindOf(v)}` };
  if (o.gt !== undefined && !(n > o.gt)) return { problem: `Too small: expected number to be >${o.gt}` };
  if (o.min !== undefined && !(n >= o.min)) return { problem: `Too small: expected number to be >=${o.min}` };
  if (o.lt !== undefined && !(n < o.lt)) return { problem: `Too big: expected number to be <${o.lt}` };
  return { value: n };
}

/** A configuration field that is text first (a duration, an address): non-text is refused as checkText does. */
export const textThen =
  <T>(check: (text: string) => Checked<T>) =>
  (v: unknown): Checked<T> => {
    const t = checkText(v);
    return t.problem === undefined ? check(t.value) : t;
  };

/** A problem of one configuration key (`key` undefined: the mapping itself). */
export interface FieldProblem {
  readonly key?: string;
  readonly problem: string;
}

/**
 * Checks a configuration mapping against one check per known key: the values of the keys present, and
 * every problem (a value its check refuses, a key no check knows, a mapping that is none), in key order.
 *
 * @example checkFields({ ttl: '1h' }, { ttl: textThen(checkDuration) }) // { values: { ttl: 3_600_000 }, problems: [] }
 */
export function checkFields<F extends Record<string, (v: unknown) => Checked<unknown>>>(
  raw: unknown,
  fields: F,
): { values: { [K in keyof F]?: Extract<ReturnType<F[K]>, { value: unknown }>['value'] }; problems: FieldProblem[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { values: {}, problems: [{ problem: `Invalid input: expected object, received ${kindOf(raw)}` }] };
  const values: Record<string, unknown> = {};
  const problems: FieldProblem[] = [];
  const unknown: string[] = [];
  for (const [key, v] of Object.entries(raw)) {
    if (!Object.hasOwn(fields, key)) {
      unknown.push(key);
      continue;
    }
    if (v === undefined) continue;
    const r = fields[key]!(v);
    if (r.problem === undefined) values[key] = r.value;
    else problems.push({ key, problem: r.problem });
  }
  if (unknown.length > 0) problems.push({ problem: `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}` });
  return { values: values as never, problems };
}

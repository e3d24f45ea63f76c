import fc from 'fast-check';
import { stringify as yamlStringify } from 'yaml';

/**
 * Generators for fuzzing configuration loaders (ca/server/config.ts, sds/agent-config.ts): values as a
 * YAML or JSON file yields them, near-valid configurations (one valid configuration with a few fields
 * changed, removed or added), and YAML text that goes wrong in the ways YAML can.
 */

type Path = readonly (string | number)[];

/** Every leaf (non-object, non-array value) of `value`, with its path. */
export function leafPaths(value: unknown, at: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...at, i]));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...at, k]));
  return [at];
}

/** Every path of `value` (leaves and the objects and arrays above them). */
export function allPaths(value: unknown, at: Path = []): Path[] {
  const below = Array.isArray(value)
    ? value.flatMap((v, i) => allPaths(v, [...at, i]))
    : typeof value === 'object' && value !== null
      ? Object.entries(value).flatMap(([k, v]) => allPaths(v, [...at, k]))
      : [];
  return at.length === 0 ? below : [at, ...below];
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> | undefined {
  let at = root;
  for (const key of path.slice(0, -1)) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return typeof at === 'object' && at !== null ? (at as Record<string | number, unknown>) : undefined;
}

/** A copy of `root` with `path` set to `value` (as an own property, even `__proto__`), or removed when `remove`. */
export function changed(root: unknown, path: Path, value: unknown, remove = false): unknown {
  const copy = structuredClone(root);
  const parent = parentOf(copy, path);
  const key = path[path.length - 1];
  if (parent === undefined || key === undefined) return copy;
  if (remove) delete parent[key];
  else Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** A value of another JSON type than `v`, so no schema that accepted `v` accepts it (numbers get an object: coercion makes it NaN). */
export function invalidFor(v: unknown): unknown {
  if (typeof v === 'string') return 42;
  if (typeof v === 'number') return {};
  if (typeof v === 'boolean') return 'yes';
  if (Array.isArray(v)) return 'x';
  return 7;
}

/** Values a field is set to: every JSON type, strings a config might hold, huge ones. */
export const configValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      '',
      '0s',
      '1ms',
      '24h',
      '25x',
      '1h30m',
      '-1h',
      '1e9h',
      `${'9'.repeat(400)}s`,
      '99999999999999999y',
      ' 1h ',
      '1h ',
      '1.5h',
      'NaN',
      '127.0.0.1:15012',
      '[::1]:1',
      'host:99999',
      ':1',
      'a:',
      'localhost',
      '0',
      -1,
      0,
      0.5,
      1,
      4096,
      4_194_305,
      1e308,
      -0,
      'sidecar',
      'node',
      'ec-p256',
      'rsa-2048',
      'full',
      'normal',
      'postgres://u@h/db',
      'https://i',
      'spiffe://td/x',
      'Bad_NS',
      'kube-system',
      null,
      true,
      false,
      [],
      {},
      ['a'],
      [null],
      { enabled: true },
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 100_000 }).map((n) => 'a'.repeat(n)) },
);

/** Keys added where none belongs, including ones that mean something to JavaScript objects. */
export const strayKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' listen', 'Listen'), fc.string({ maxLength: 8 }));

/** A value of the same kind as `v` and near it: the edits a person makes by mistake (a zero duration, a negative number). */
function similarTo(v: unknown): fc.Arbitrary<unknown> {
  if (typeof v === 'string' && /^\d+(ms|s|m|h|d|y)$/.test(v)) {
    return fc.oneof(
      fc.constantFrom('0s', '0ms', '0h', '1ms', '-1s', '1y', '100y', '0.0001ms', '1s0ms'),
      fc.tuple(fc.nat({ max: 100 }), fc.constantFrom('ms', 's', 'm', 'h', 'd', 'y')).map(([n, u]) => `${n}${u}`),
    );
  }
  if (typeof v === 'number') return fc.oneof(fc.constantFrom(0, -1, 0.5, 1, 1e9, Number.MAX_SAFE_INTEGER, 1e308), fc.double({ noNaN: true }));
  if (typeof v === 'boolean') return fc.constant(!v);
  if (typeof v === 'string') return fc.oneof(fc.constantFrom('', ' ', v.toUpperCase(), `${v} `, `${v}:`, `${v}/x`), fc.string({ maxLength: 10 }));
  if (Array.isArray(v)) return fc.constantFrom([], [...v, ...v], [''], [null]);
  return configValue;
}

/** One change of a near-valid configuration: set, remove, or add a key below a path of `base`. */
export function nearValid(base: object): fc.Arbitrary<{ config: unknown; touched: Path[] }> {
  const paths = allPaths(base);
  const valueAt = (p: Path) => p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], base);
  const edit = fc.oneof(
    fc.constantFrom(...paths).chain((path) => similarTo(valueAt(path)).map((value) => ({ kind: 'set' as const, path, value }))),
    fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...paths), value: configValue }),
    fc.record({ kind: fc.constant('remove' as const), path: fc.constantFrom(...paths) }),
    fc.record({ kind: fc.constant('add' as const), under: fc.constantFrom<Path>([], ...paths), key: strayKey, value: configValue }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    let config: unknown = base;
    const touched: Path[] = [];
    for (const e of edits) {
      if (e.kind === 'set') config = changed(config, e.path, e.value);
      else if (e.kind === 'remove') config = changed(config, e.path, undefined, true);
      else config = changed(config, [...e.under, e.key], e.value);
      touched.push(e.kind === 'add' ? [...e.under, e.key] : e.path);
    }
    return { config, touched };
  });
}

/** YAML text: a configuration written out and then damaged, or a soup of YAML syntax. */
export function yamlText(base: object): fc.Arbitrary<string> {
  const token = fc.constantFrom(
    'listen:',
    'caAddr:',
    'workloadTtl:',
    'ttl:',
    'limits:',
    '  ',
    '\n',
    '\t',
    '- ',
    ': ',
    '&a ',
    '*a',
    '<<: *a',
    '!!binary ',
    '!!js/function ',
    '!!set ',
    '!!omap ',
    '!!int ',
    '!!float ',
    '!<tag:yaml.org,2002:str> ',
    '{',
    '}',
    '[',
    ']',
    ',',
    '"',
    "'",
    '%YAML 1.1\n',
    '%TAG ! tag:x:\n',
    '---\n',
    '...\n',
    '? ',
    '|\n',
    '>\n',
    '24h',
    '1e400',
    '0x10',
    '0o17',
    '.inf',
    '.nan',
    '~',
    'null',
    'yes',
    'on',
    '2001-12-14',
    '#',
    '\ufeff',
    '\u0000',
    'é',
    '\\u0000',
  );
  const damage = fc.record({ at: fc.nat(), cut: fc.integer({ min: 0, max: 8 }), insert: fc.array(token, { maxLength: 3 }).map((t) => t.join('')) });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(nearValid(base), fc.array(damage, { maxLength: 3 }), fc.boolean()).map(([{ config }, edits, json]) => {
        let text = json ? JSON.stringify(config, null, 2) : yamlStringify(config);
        for (const d of edits) {
          const at = d.at % (text.length + 1);
          text = text.slice(0, at) + d.insert + text.slice(at + d.cut);
        }
        return text;
      }),
    },
    { weight: 2, arbitrary: fc.array(token, { maxLength: 30 }).map((t) => t.join('')) },
    // Alias expansion (a "billion laughs" document): the YAML parser must refuse it, not build it.
    {
      weight: 1,
      arbitrary: fc.integer({ min: 2, max: 9 }).map((n) =>
        [
          'a: &a [x, x, x, x, x, x, x, x, x]',
          ...Array.from(
            { length: n },
            (_, i) =>
              `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
                .fill(`*${String.fromCharCode(97 + i)}`)
                .join(', ')}]`,
          ),
        ].join('\n'),
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  );
}

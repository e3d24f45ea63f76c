/**
 * Metric names in a PromQL expression, found WITHOUT a PromQL parser: used only when Go (and so
 * Prometheus's own parser, promql-check) is unavailable. What it does: drops string literals, range and
 * subquery brackets, label-matcher blocks (keeping a `__name__="x"` matcher's name) and grouping lists
 * (`by (...)`, `on (...)`, `group_left (...)` ...), then keeps every identifier that is not a function or
 * aggregation (followed by `(`) and not a keyword. It does not check syntax, types, or label names.
 * When Go is available the monitoring test checks that it agrees with the real parser on every
 * expression of the kit.
 *
 * @example promqlMetricNames('sum by (le) (rate(x_bucket{a="b"}[5m]))') // ['x_bucket']
 */
export function promqlMetricNames(expr: string): string[] {
  const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'atan2', 'inf', 'nan', 'start', 'end']);
  const names = new Set<string>();
  let s = expr.replace(/\{([^}]*)\}/g, (_, body: string) => {
    const m = /__name__\s*=\s*"([^"]*)"/.exec(body);
    if (m) names.add(m[1]!);
    return ' ';
  });
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const m of s.matchAll(/(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!.toLowerCase())) continue;
    names.add(m[1]!);
  }
  return [...names].sort();
}

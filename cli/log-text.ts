/** pino's numeric levels and their names (pino's defaults; docs/observability.md lists them). */
const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A field value as a reader scans it: bare when it is one plain word, else JSON-quoted. */
function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/**
 * One pino JSON line as one line for a person (`CASTELLAN_LOG_FORMAT=text`):
 * `<ISO time> <LEVEL> [<component>] <message> key=value ...`, and an error's stack indented below.
 * A line that is not a JSON object is passed through unchanged.
 *
 * @example textLogLine('{"level":30,"time":0,"component":"castellan-ca","msg":"ready","port":1}\n')
 *   // '1970-01-01T00:00:00.000Z INFO  [castellan-ca] ready port=1\n'
 */
export function textLogLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return json;
    rec = parsed as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, component, msg, err, ...fields } = rec;
  const parts = [typeof time === 'number' ? new Date(time).toISOString() : String(time ?? '-'), (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5)];
  if (component !== undefined) parts.push(`[${String(component)}]`);
  if (msg !== undefined) parts.push(String(msg));
  let stack = '';
  if (err !== undefined) {
    const e = err as { message?: unknown; stack?: unknown; type?: unknown };
    parts.push(`err=${fieldValue(typeof e === 'object' && e !== null && e.message !== undefined ? e.message : err)}`);
    if (typeof e === 'object' && e !== null && typeof e.stack === 'string')
      stack = e.stack
        .split('\n')
        .map((l) => `    ${l}\n`)
        .join('');
  }
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}=${fieldValue(v)}`);
  return `${parts.join(' ')}\n${stack}`;
}

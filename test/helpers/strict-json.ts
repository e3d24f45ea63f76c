/**
 * A JSON parser as strict as the strictest consumers of our logs (RFC 8259 §4: "The names within an
 * object SHOULD be unique"; jq --seq, Go's json with DisallowDuplicateFields-style checks, many SIEM
 * ingesters reject or silently drop duplicates). `JSON.parse` keeps the last duplicate without a word,
 * so tests that promise "valid JSON lines" parse with this instead.
 *
 * @example parseStrictJson('{"a":1,"a":2}') // throws: duplicate key "a" at offset 7
 */
export function parseStrictJson(text: string): unknown {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`strict JSON: ${why} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    if (text[i] !== '"') fail('want a string');
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') return (i++, obj);
      for (;;) {
        ws();
        const at = i;
        const key = str();
        if (seen.has(key)) {
          i = at;
          fail(`duplicate key ${JSON.stringify(key)}`);
        }
        seen.add(key);
        ws();
        if (text[i++] !== ':') fail('want ":"');
        obj[key] = value();
        ws();
        const sep = text[i++];
        if (sep === '}') return obj;
        if (sep !== ',') fail('want "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') return (i++, arr);
      for (;;) {
        arr.push(value());
        ws();
        const sep = text[i++];
        if (sep === ']') return arr;
        if (sep !== ',') fail('want "," or "]"');
      }
    }
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) return fail('want a value');
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

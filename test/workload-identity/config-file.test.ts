import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../workload-identity/index.js';
import { tempDir } from '../helpers/test-ca.js';
import { rejectionOf } from '../helpers/error-code.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir('castellan-config-file-');
});
afterEach(() => t.cleanup());

function file(name: string, text: string): string {
  const p = path.join(t.dir, name);
  writeFileSync(p, text);
  return p;
}

describe('readConfigFile', () => {
  it('ok/a YAML file and a JSON file give their top-level mapping', async () => {
    const yaml = file('a.yaml', 'listen: 0.0.0.0:15012\nlimits:\n  maxWatchers: 5\n# a comment\n');
    expect(await readConfigFile(yaml)).toEqual({ listen: '0.0.0.0:15012', limits: { maxWatchers: 5 } });
    expect(await readConfigFile(file('a.json', '{"caAddr": "ca:15012", "mode": "node"}'))).toEqual({ caAddr: 'ca:15012', mode: 'node' });
  });

  it('ok/an empty file, one with comments only, and null are the empty mapping', async () => {
    for (const [name, text] of [
      ['empty.yaml', ''],
      ['comments.yaml', '# nothing set yet\n'],
      ['null.yaml', 'null\n'],
    ]) {
      expect(await readConfigFile(file(name!, text!)), name).toEqual({});
    }
  });

  it('fail/a file that cannot be read: ERR_CONFIG naming the file and the errno', async () => {
    const missing = path.join(t.dir, 'missing.yaml');
    const e = await rejectionOf(readConfigFile(missing));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toBe(`config: cannot read ${missing}: ENOENT`);
    expect(e.context).toMatchObject({ file: missing, stage: 'read', errno: 'ENOENT' });
    const dir = path.join(t.dir, 'a-directory.yaml');
    mkdirSync(dir);
    const d = await rejectionOf(readConfigFile(dir));
    expect(d.code).toBe('ERR_CONFIG');
    expect(d.message).toBe(`config: cannot read ${dir}: EISDIR`);
  });

  it('fail/malformed YAML: ERR_CONFIG with file:line:column of the problem', async () => {
    const bad = file('bad.yaml', 'mode: node\nttl: [1h\n');
    const e = await rejectionOf(readConfigFile(bad));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toMatch(new RegExp(`^config: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:1: not valid YAML/JSON: Flow sequence`));
    expect(e.context).toMatchObject({ file: bad, stage: 'parse', line: 3, column: 1 });
    const nested = file('nested.yaml', 'a: 1\n  b: 2\n');
    expect((await rejectionOf(readConfigFile(nested))).context).toMatchObject({ stage: 'parse', line: 1, column: 4 });
  });

  it('fail/what the parser would only warn about (an unresolved tag) is refused with its place, not read half-way', async () => {
    const tagged = file('tagged.yaml', 'socket: /run/sds.sock\nworkloadTtl: !!float 24h\n');
    const e = await rejectionOf(readConfigFile(tagged));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain(`${tagged}:2:14: not valid YAML/JSON: Unresolved tag`);
  });

  it('fail/malformed JSON is refused like malformed YAML', async () => {
    const bad = file('bad.json', '{"caAddr": "ca:1",\n "mode": "node"\n');
    const e = await rejectionOf(readConfigFile(bad));
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain(`config: ${bad}:`);
    expect(e.context).toMatchObject({ stage: 'parse' });
  });

  it('fail/a top level that is no mapping (a list, a scalar) is ERR_CONFIG naming the file and what it found', async () => {
    for (const [name, text, found] of [
      ['list.yaml', '- listen: 0.0.0.0:1\n', 'a list'],
      ['number.yaml', '42\n', 'a number (42)'],
      ['string.yaml', 'listen\n', 'a string ("listen")'],
    ] as const) {
      const p = file(name, text);
      const e = await rejectionOf(readConfigFile(p));
      expect(e.code, name).toBe('ERR_CONFIG');
      expect(e.message, name).toBe(`config: ${p}: want a mapping of keys at the top level, found ${found}`);
      expect(e.context, name).toMatchObject({ file: p, stage: 'shape' });
    }
  });
});

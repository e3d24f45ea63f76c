// proto-types/generated/ is what grpc-js's proto-loader-gen-types makes of today's .proto files, with the
// options the loaders use: otherwise the types would describe objects grpc-js does not hand us.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Options } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_OPTIONS } from '../../ca/index.js';
import { CA_CLIENT_PROTO_OPTIONS } from '../../sds/ca-protos.js';
import { SDS_PROTO_FILES, SDS_PROTO_OPTIONS } from '../../sds/protos.js';
import { tempDir } from '../helpers/test-ca.js';

const SCRIPT = 'scripts/gen-proto-types.mjs';
const COMMITTED = 'proto-types/generated';

interface ProtoTypeSet {
  dir: string;
  files: string[];
  options: { keepCase: boolean; longs: string; enums: string; defaults: boolean; oneofs: boolean; json: boolean };
}

function node(...args: string[]): string {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** Every file under `dir` (relative, `/`-separated) with its text. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, file).split(path.sep).join('/'), readFileSync(file, 'utf8'));
  }
  return out;
}

/** What differs between two trees: files only in one of them, and files whose text differs. */
function differences(want: Map<string, string>, have: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of want) {
    if (!have.has(file)) out.push(`missing ${file}`);
    else if (have.get(file) !== text) out.push(`differs ${file}`);
  }
  for (const file of have.keys()) if (!want.has(file)) out.push(`extra ${file}`);
  return out.sort();
}

/** The generator's view of a loader's options (the flags proto-loader-gen-types takes). */
function asGeneratorOptions(o: Options): ProtoTypeSet['options'] {
  // Options the generator would need a flag for that no set passes: none of our loaders uses them.
  expect({ bytes: o.bytes, arrays: o.arrays, objects: o.objects }).toEqual({ bytes: undefined, arrays: undefined, objects: undefined });
  return {
    keepCase: o.keepCase === true,
    longs: o.longs === Number ? 'Number' : o.longs === String ? 'String' : 'Long',
    enums: o.enums === String ? 'String' : 'number',
    defaults: o.defaults === true,
    oneofs: o.oneofs === true,
    json: o.json === true,
  };
}

describe('proto-types/generated (npm run gen:proto)', () => {
  let t: ReturnType<typeof tempDir>;
  let fresh: Map<string, string>;
  beforeAll(() => {
    t = tempDir('castellan-proto-types-');
    node('--out', t.dir);
    fresh = tree(t.dir);
  });
  afterAll(() => t?.cleanup());

  it('ok/the committed types are what the generator makes of the .proto files today (else: npm run gen:proto)', () => {
    expect(fresh.size).toBeGreaterThan(50);
    expect(differences(fresh, tree(COMMITTED))).toEqual([]);
  });

  it('fail/a type that no longer matches its .proto file is found', () => {
    const committed = tree(COMMITTED);
    const file = 'ca/castellan/ca/v1/SignRequest.ts';
    const text = committed.get(file)!;
    expect(text).toContain("'ttlSeconds': (number);");
    committed.set(file, text.replace("'ttlSeconds': (number);", "'ttlSeconds': (string);"));
    committed.set('ca/castellan/ca/v1/Gone.ts', 'export interface Gone {}\n');
    expect(differences(fresh, committed)).toEqual(['differs ca/castellan/ca/v1/SignRequest.ts', 'extra ca/castellan/ca/v1/Gone.ts']);
  });

  it('ok/each set is generated with the options its loader uses', () => {
    const sets = JSON.parse(node('--print-sets')) as ProtoTypeSet[];
    const byDir = new Map(sets.map((s) => [s.dir, s]));
    // ca/server/protos.ts (the CA) and sds/ca-protos.ts (the agent's CA client) load the CA protos alike.
    expect(byDir.get('ca')?.options).toEqual(asGeneratorOptions(PROTO_OPTIONS));
    expect(byDir.get('ca')?.options).toEqual(asGeneratorOptions(CA_CLIENT_PROTO_OPTIONS));
    // sds/protos.ts: Envoy SDS, the Workload API and the agent status, all with SDS_PROTO_OPTIONS.
    expect(byDir.get('agent')?.options).toEqual(asGeneratorOptions(SDS_PROTO_OPTIONS));
    expect(byDir.get('agent')?.files).toEqual(expect.arrayContaining([...SDS_PROTO_FILES, 'spiffe/workload/workload.proto', 'castellan/agent/v1/agent.proto']));
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

function file(name: string, text: string): string {
  const f = path.join(t.dir, name);
  writeFileSync(f, text);
  return f;
}

describe('castellan config validate', () => {
  it('ok/a valid CA configuration and a valid agent configuration: exit 0; the kind is told by the keys', async () => {
    const ca = file('ca.yaml', 'listen: 0.0.0.0:15012\nauthentication:\n  tokenReview: {}\nworkloadTtl: 1h\n');
    const r = await cli(['config', 'validate', ca]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toBe(`${ca}: a valid CA configuration\n`);
    const agent = file('agent.yaml', 'caAddr: castellan.castellan-system.svc:15012\ncaBundle: /etc/castellan/bundle.pem\ntokenFile: /var/run/secrets/tokens/castellan\nttl: 1h\n');
    const j = await cli(['config', 'validate', agent, '--output', 'json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toEqual({ file: agent, kind: 'agent', ok: true, problems: [] });
  });

  it('fail/every problem of a CA configuration is listed; exit 1', async () => {
    const ca = file('bad.yaml', 'listen: 127.0.0.1:99999\nworkloadTtl: 25x\nsurprise: 1\nauthentication:\n  devIssuer: true\n');
    const r = await cli(['config', 'validate', ca, '--output', 'json']);
    expect(r.code).toBe(1);
    const v = JSON.parse(r.out);
    expect(v).toMatchObject({ kind: 'ca', ok: false });
    expect(v.problems).toHaveLength(3);
    expect(v.problems.join('\n')).toMatch(/listen: the port must be at most 65535/);
    expect(v.problems.join('\n')).toMatch(/workloadTtl: "25x" is not a duration/);
    expect(v.problems.join('\n')).toMatch(/surprise/);
    const text = await cli(['config', 'validate', ca]);
    expect(text.out).toMatch(/^.*bad\.yaml: 3 problems \(CA configuration\):\n {2}/);
  });

  it('fail/a CA configuration without a token authenticator: what ca serve refuses at start', async () => {
    const ca = file('open.yaml', 'listen: 127.0.0.1:15012\nworkloadTtl: 1h\n');
    const r = await cli(['config', 'validate', ca]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('authentication: no token authenticator');
    const certOnly = file('certonly.yaml', 'listen: 127.0.0.1:15012\nauthentication:\n  clientCertificateOnly: true\n');
    expect((await cli(['config', 'validate', certOnly])).code).toBe(0);
  });

  it('fail/an agent configuration: every problem of its shape; required fields checked as the agent merges them here', async () => {
    const bad = file('agent-bad.yaml', 'caAddr: ca:15012\nmode: nodez\nkeyType: dsa\nhttp: 1.2.3.4:70000\n');
    const r = await cli(['config', 'validate', bad, '--output', 'json']);
    expect(r.code).toBe(1);
    const v = JSON.parse(r.out);
    expect(v).toMatchObject({ kind: 'agent', ok: false });
    expect(v.problems.map((p: string) => p.split(':')[0])).toEqual(['mode', 'keyType', 'http']);

    const partial = file('agent-partial.yaml', 'caAddr: ca:15012\nmode: sidecar\n');
    const missing = await cli(['config', 'validate', partial, '--output', 'json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out).problems).toEqual(['caBundle (--ca-bundle): required', 'tokenFile (--token-file): required in sidecar mode']);
    // Given by the environment, as `castellan agent --config` would see it here.
    const withEnv = await cli(['config', 'validate', partial], { env: { CASTELLAN_CA_BUNDLE: '/b.pem', CASTELLAN_TOKEN_FILE: '/t' } });
    expect(withEnv.code, withEnv.out).toBe(0);
  });

  it('fail/not YAML: exit 1; kind unknown or no such file: exit 2', async () => {
    const broken = file('broken.yaml', 'listen: [\n');
    const r = await cli(['config', 'validate', broken, '--kind', 'ca']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('not valid YAML/JSON');
    const neither = file('neither.yaml', 'http: 127.0.0.1:15014\n');
    const unknown = await cli(['config', 'validate', neither, '--output', 'json']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.err).error.message).toContain('give --kind ca or --kind agent');
    expect((await cli(['config', 'validate', neither, '--kind', 'agent'])).code).toBe(1);
    expect((await cli(['config', 'validate', path.join(t.dir, 'none.yaml')])).code).toBe(2);
    expect((await cli(['config', 'validate', neither, '--kind', 'cluster'])).code).toBe(2);
  });

  it("fail/the loaders' reader: a broken file is named with its line and column; a list is no configuration of either kind", async () => {
    const broken = file('broken.yaml', 'listen: 0.0.0.0:1\nhttp: [\n');
    const r = await cli(['config', 'validate', broken, '--kind', 'agent', '--output', 'json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).problems).toEqual([expect.stringMatching(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:1: not valid YAML/JSON: `))]);
    const list = file('list.yaml', '- listen: 0.0.0.0:1\n');
    expect((await cli(['config', 'validate', list])).code).toBe(2);
    const asCa = await cli(['config', 'validate', list, '--kind', 'ca', '--output', 'json']);
    expect(asCa.code).toBe(1);
    expect(JSON.parse(asCa.out).problems).toEqual([`${list}: want a mapping of keys at the top level, found a list`]);
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAgentConfigFile, resolveAgentConfig } from '../../sds/agent-config.js';
import { codeOf, failureOf } from '../helpers/error-code.js';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

describe('agent configuration', () => {
  it('ok/defaults', () => {
    const c = resolveAgentConfig({ caAddr: 'castellan.castellan-system.svc:15012', caBundle: '/etc/castellan/bundle.pem', tokenFile: '/var/run/secrets/tokens/castellan' });
    expect(c).toMatchObject({
      mode: 'sidecar',
      keyType: 'ec-p256',
      ttlMs: 86_400_000,
      renewFraction: 0.5,
      renewJitter: 0.1,
      retryInitialMs: 1_000,
      retryMaxMs: 60_000,
      socket: '/var/run/castellan/sds.sock',
    });
  });

  it('ok/node mode without a token file; durations and fractions parsed', () => {
    const c = resolveAgentConfig({ caAddr: 'ca:1', caBundle: 'b', mode: 'node', ttl: '1h30m', renewFraction: '0.6', retryMax: '2m', keyType: 'rsa-2048' });
    expect(c).toMatchObject({ mode: 'node', ttlMs: 5_400_000, renewFraction: 0.6, retryMaxMs: 120_000, keyType: 'rsa-2048' });
    expect(c.tokenFile).toBeUndefined();
  });

  it('fail/every problem listed by path in one ERR_CONFIG', async () => {
    const f = await failureOf(Promise.resolve().then(() => resolveAgentConfig({ caAddr: 'no-port', ttl: 'soon', renewFraction: 1.5, extra: true })));
    expect(f?.code).toBe('ERR_CONFIG');
    for (const p of ['caAddr (--ca-addr): want host:port', 'ttl (--ttl): "soon" is not a duration', 'renewFraction:', 'Unrecognized key']) expect(f?.message).toContain(p);
  });

  it('fail/a duration that is not one is a configuration problem of its key', () => {
    for (const bad of ['', '10', '1x', 'h1']) {
      expect(
        codeOf(() => resolveAgentConfig({ caAddr: 'ca:1', caBundle: 'b', mode: 'node', ttl: bad })),
        bad,
      ).toBe('ERR_CONFIG');
    }
  });

  it('ok/a YAML file is read; a bad one names its problems', async () => {
    const good = path.join(t.dir, 'a.yaml');
    writeFileSync(good, 'caAddr: ca:15012\nmode: node\n');
    expect(await loadAgentConfigFile(good)).toEqual({ caAddr: 'ca:15012', mode: 'node' });
    const bad = path.join(t.dir, 'b.yaml');
    writeFileSync(bad, 'mode: [1\n');
    expect((await failureOf(loadAgentConfigFile(bad)))?.code).toBe('ERR_CONFIG');
    expect((await failureOf(loadAgentConfigFile(path.join(t.dir, 'missing.yaml'))))?.message).toMatch(/cannot read .*ENOENT/);
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfigFile, resolveAgentConfig, type AgentConfig } from '../../sds/agent-config.js';
import { changed, configValue, invalidFor, leafPaths, nearValid, yamlText } from '../helpers/config-fuzz.js';
import { asyncCodeOf } from '../helpers/error-code.js';
import { asyncOutcomeOf, expectCoded, fuzzParams, outcomeOf } from '../helpers/fuzz.js';
import { tempDir } from '../helpers/test-ca.js';

/**
 * Fuzzing of the agent's configuration loader (sds/agent-config.ts, docs/architecture.md §10): any value
 * a YAML or JSON file can hold, near-valid configurations and damaged YAML give either a complete,
 * consistent configuration or one ERR_CONFIG error that names each problem by its path.
 */

/** Every field set, each to a value the loader accepts. */
const FULL = {
  caAddr: 'castellan.castellan-system.svc:15012',
  caBundle: '/etc/castellan/bundle.pem',
  caServerName: 'castellan.castellan-system.svc',
  tokenFile: '/var/run/secrets/tokens/castellan-token',
  socket: '/var/run/castellan/sds.sock',
  mode: 'sidecar',
  keyType: 'ec-p256',
  ttl: '24h',
  renewFraction: 0.5,
  renewJitter: 0.1,
  retryInitial: '1s',
  retryMax: '60s',
  http: '127.0.0.1:15020',
  agentId: 'node-1',
  nodeIdleTimeout: '5m',
};

/** The loader's outcome: a configuration, or ERR_CONFIG and nothing else (a hang fails too). */
function resolve(raw: unknown) {
  const out = outcomeOf(() => resolveAgentConfig(raw));
  if (!out.ok) expectCoded(out.error, ['ERR_CONFIG']);
  return out;
}

/** What every resolved configuration holds, whatever went in (the documented ranges and defaults). */
function checkResolved(c: AgentConfig): void {
  expect(c.caAddr).toMatch(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/);
  expect(c.caBundle.length).toBeGreaterThan(0);
  expect(['sidecar', 'node']).toContain(c.mode);
  if (c.mode === 'sidecar') expect(c.tokenFile).toBeDefined();
  expect(Number.isInteger(c.ttlMs) && c.ttlMs >= 60_000 && c.ttlMs % 1000 === 0).toBe(true);
  expect(c.renewFraction > 0 && c.renewFraction < 1).toBe(true);
  expect(c.renewJitter >= 0 && c.renewJitter < 0.5).toBe(true);
  // Retries wait: a 0 ms delay would hammer the CA in a loop, and the first delay is at most the longest.
  expect(c.retryInitialMs, 'retryInitial').toBeGreaterThan(0);
  expect(c.retryInitialMs, 'retryInitial at most retryMax').toBeLessThanOrEqual(c.retryMaxMs);
  expect(Number.isFinite(c.nodeIdleTimeoutMs) && c.nodeIdleTimeoutMs >= 0).toBe(true);
}

describe('agent configuration fuzzing (sds/agent-config.ts)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp?.cleanup());

  it('ok/the full configuration resolves (every mutation departs from it)', () => {
    const out = resolve(FULL);
    expect(out.ok).toBe(true);
    if (out.ok) checkResolved(out.value);
  });

  it('fail/any JSON value, and any JavaScript value, gives a consistent configuration or ERR_CONFIG', () => {
    const raw = fc.oneof(
      fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown),
      fc.dictionary(fc.constantFrom(...Object.keys(FULL), '__proto__', 'x'), configValue),
      fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true }),
    );
    fc.assert(
      fc.property(raw, (r) => {
        const out = resolve(r);
        if (out.ok) checkResolved(out.value);
      }),
      fuzzParams(1500),
    );
  });

  it('fail/near-valid configurations: a consistent configuration, or ERR_CONFIG naming a path that was changed', () => {
    fc.assert(
      fc.property(nearValid(FULL), ({ config, touched }) => {
        const out = resolve(config);
        if (out.ok) {
          checkResolved(out.value);
          return;
        }
        const message = (out.error as Error).message;
        // Cross-field checks name the other field (retryInitial vs retryMax; tokenFile for the sidecar mode).
        expect(touched.some((p) => message.includes(String(p[0]))) || /retryInitial|tokenFile/.test(message), `${JSON.stringify(touched)} → ${message}`).toBe(true);
      }),
      fuzzParams(1500),
    );
  });

  it('fail/several wrong fields: one ERR_CONFIG that lists every one by its path', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...leafPaths(FULL)), { minLength: 1, maxLength: 5 }), (paths) => {
        let config: unknown = FULL;
        for (const p of paths) config = changed(config, p, invalidFor(FULL[p[0] as keyof typeof FULL]));
        const out = resolve(config);
        expect(out.ok).toBe(false);
        const message = (out as { error: Error }).error.message;
        for (const p of paths) expect(message, `lists ${p.join('.')}`).toMatch(new RegExp(`\\n  ${p.join('.')}( \\(--[a-z-]+\\))?: `));
      }),
      fuzzParams(500),
    );
  });

  it('fail/YAML files: damaged, alias bombs, binary: fields or ERR_CONFIG from loadAgentConfigFile, never a process warning', async () => {
    const file = path.join(tmp.dir, 'agent.yaml');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await fc.assert(
        fc.asyncProperty(yamlText(FULL), async (text) => {
          warnings.length = 0;
          writeFileSync(file, text);
          const out = await asyncOutcomeOf(loadAgentConfigFile(file));
          if (!out.ok) expectCoded(out.error, ['ERR_CONFIG']);
          else expect(typeof out.value === 'object' && out.value !== null && !Array.isArray(out.value)).toBe(true);
          await new Promise((r) => setImmediate(r));
          expect(
            warnings.map((w) => `${w.name}: ${w.message}`),
            'YAML trouble goes into ERR_CONFIG, not to stderr',
          ).toEqual([]);
        }),
        fuzzParams(400, { caseTimeoutMs: 10_000 }),
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fail/regression: a retry delay of 0 (the agent would hammer the CA) or a first delay above the default longest is ERR_CONFIG', () => {
    const base = { caAddr: 'ca:15012', caBundle: 'bundle.pem', tokenFile: 'token' };
    for (const [config, line] of [
      [{ ...base, retryInitial: '0s' }, '  retryInitial: must be longer than 0'],
      [{ ...base, retryMax: '0ms' }, '  retryMax: must be longer than 0'],
      [{ ...base, retryInitial: '2m' }, '  retryInitial: longer than retryMax (default 60s)'],
    ] as const) {
      const out = outcomeOf(() => resolveAgentConfig(config));
      expect(out.ok, line).toBe(false);
      expectCoded((out as { error: unknown }).error, ['ERR_CONFIG']);
      expect((out as { error: Error }).error.message).toContain(line);
    }
    expect(resolveAgentConfig({ ...base, retryInitial: '2m', retryMax: '5m' }).retryInitialMs).toBe(120_000);
  });

  it('fail/regression: a YAML tag the parser cannot resolve is ERR_CONFIG, not a warning on stderr and a half-read value', async () => {
    const file = path.join(tmp.dir, 'tagged.yaml');
    writeFileSync(file, 'ttl: !!float 1h\n');
    expect(await asyncCodeOf(loadAgentConfigFile(file))).toBe('ERR_CONFIG');
    writeFileSync(file, 'ttl: 1h # a comment\n');
    expect(await loadAgentConfigFile(file)).toEqual({ ttl: '1h' });
  });
});

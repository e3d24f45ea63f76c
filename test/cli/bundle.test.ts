// `castellan bundle show|export`, `castellan federation list`, and what `castellan check` says about
// JWT-SVID keys and federation.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHORITY_FILES, authorityDir, commitFederationChange, directoryStore, initCa, loadCa } from '../../ca/index.js';
import { parseSpiffeBundle, TrustDomain } from '../../workload-identity/index.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';

describe('castellan bundle and federation', () => {
  let t: ReturnType<typeof tempDir>;
  const dir = () => path.join(t.dir, 'ca');
  const other = () => path.join(t.dir, 'other');

  beforeAll(async () => {
    t = tempDir();
    await initCa({ dir: dir(), trustDomain: TrustDomain.of('home.test') });
    const o = await initCa({ dir: other(), trustDomain: TrustDomain.of('other.test') });
    const bundle = parseSpiffeBundle(
      TrustDomain.of('other.test'),
      JSON.stringify({ keys: [{ use: 'x509-svid', x5c: [o.bundle[0]!.der.toString('base64')] }], spiffe_sequence: 4 }),
    );
    await commitFederationChange(directoryStore(dir()), { kind: 'set', bundle, source: 'endpoint', endpoint: 'https://other.example/bundle' }, undefined, new Date());
  });
  afterAll(() => t?.cleanup());

  it('ok/bundle show: the SPIFFE bundle with the roots, the JWT key and the bundle sequence; --format pem is bundle.pem', async () => {
    const r = await cli(['bundle', 'show', '--dir', dir()]);
    expect(r.code).toBe(0);
    const ca = await loadCa(dir());
    const b = parseSpiffeBundle(TrustDomain.of('home.test'), r.out);
    expect(b.x509Authorities.map((d) => d.toString('hex'))).toEqual(ca.bundle.map((c) => c.der.toString('hex')));
    expect(b.jwtAuthorities.map((k) => k.keyId)).toEqual([ca.active.jwtKey!.keyId]);
    expect(b.sequence).toBe(ca.bundleSequence);
    expect(b.refreshHintSeconds).toBe(300);
    const pem = await cli(['bundle', 'show', '--dir', dir(), '--format', 'pem']);
    expect(pem.out).toBe(readFileSync(path.join(dir(), 'bundle.pem'), 'utf8'));
  });

  it('ok/bundle export writes a federated bundle; fail/an unknown trust domain is a usage error naming the known ones', async () => {
    const out = path.join(t.dir, 'other.json');
    const r = await cli(['bundle', 'export', '--dir', dir(), '--trust-domain', 'other.test', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('other.test (1 root(s), 0 JWT key(s), sequence 4)');
    expect(parseSpiffeBundle(TrustDomain.of('other.test'), readFileSync(out, 'utf8')).sequence).toBe(4);
    const bad = await cli(['bundle', 'show', '--dir', dir(), '--trust-domain', 'nowhere.test']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('home.test, other.test');
  });

  it('ok/federation list: stored bundles, and configured ones without a bundle; json output', async () => {
    const config = path.join(t.dir, 'ca.yaml');
    writeFileSync(
      config,
      `federation:\n  trustDomains:\n    - trustDomain: other.test\n      bundleEndpointUrl: https://other.example/bundle\n      profile: https_web\n    - trustDomain: third.test\n      bundleEndpointUrl: https://third.example/bundle\n      profile: https_web\n`,
    );
    const table = await cli(['federation', 'list', '--dir', dir()]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/other\.test\s+endpoint\s+4\s+1\s+0/);
    const j = await cli(['federation', 'list', '--dir', dir(), '--config', config, '--output', 'json']);
    const rows = (JSON.parse(j.out) as { trustDomains: { trustDomain: string; configured: boolean; stored: boolean }[] }).trustDomains;
    expect(rows.map((r) => [r.trustDomain, r.configured, r.stored])).toEqual([
      ['other.test', true, true],
      ['third.test', true, false],
    ]);
    // check: a configured trust domain without a bundle fails (5); a leader reporting failing fetches warns.
    const check = await cli(['check', '--dir', dir(), '--config', config]);
    expect(check.code).toBe(5);
    expect(check.out).toContain('federated trust domain third.test has no bundle yet');
    await directoryStore(dir()).agentReports.publish({
      format: 1,
      replica: 'r1',
      writtenAt: new Date().toISOString(),
      agents: [],
      federation: [
        {
          trustDomain: 'other.test',
          endpoint: 'https://other.example/bundle',
          failures: 3,
          intervalMs: 300_000,
          lastError: { reason: 'timeout', message: 'did not answer', at: new Date().toISOString() },
        },
      ],
    });
    const failing = await cli(['check', '--dir', dir(), '--config', config, '--output', 'json']);
    const what = (JSON.parse(failing.out) as { findings: { level: string; what: string }[] }).findings.map((f) => `${f.level} ${f.what}`);
    expect(what.some((w) => w.startsWith('warn fetching the bundle of other.test failed 3 time(s) in a row (timeout'))).toBe(true);
  });

  it('ok/check warns when no authority has a JWT-SVID key (a CA made before them)', async () => {
    const legacy = path.join(t.dir, 'legacy');
    await initCa({ dir: legacy, trustDomain: TrustDomain.of('legacy.test') });
    rmSync(path.join(authorityDir(legacy, 1), AUTHORITY_FILES.jwtKey));
    const r = await cli(['check', '--dir', legacy, '--output', 'json']);
    const findings = (JSON.parse(r.out) as { findings: { level: string; what: string }[] }).findings;
    expect(findings.some((f) => f.level === 'warn' && f.what.includes('no authority has a JWT-SVID signing key'))).toBe(true);
  });
});

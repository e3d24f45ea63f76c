import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, loadDevTokenIssuer } from '../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../workload-identity/index.js';
import type { CertRequestReport } from '../../cli/cert-request.js';
import { testCaServer } from '../helpers/ca-server.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';

describe("castellan cert request (what the chart's helm test pod runs)", () => {
  let t: ReturnType<typeof tempDir>;
  let srv: Awaited<ReturnType<typeof testCaServer>>;
  let bundle: string;
  let otherBundle: string;
  let token: string;
  let wrongAudience: string;

  beforeAll(async () => {
    t = tempDir();
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    bundle = path.join(dir, 'bundle.pem');
    const other = path.join(t.dir, 'other');
    await initCa({ dir: other, trustDomain: TrustDomain.of('cluster.local') });
    otherBundle = path.join(other, 'bundle.pem');
    const dev = await loadDevTokenIssuer(dir);
    const mint = async (aud: string, file: string) => {
      writeFileSync(
        path.join(t.dir, file),
        await mintServiceAccountToken(dev.privateKey, dev.kid, {
          issuer: dev.issuer,
          audiences: [aud],
          namespace: 'castellan-system',
          serviceAccount: 'castellan-test',
          ttlSeconds: 600,
        }),
      );
      return path.join(t.dir, file);
    };
    token = await mint('castellan', 'token');
    wrongAudience = await mint('vault', 'token-vault');
    srv = await testCaServer(dir, {}, true);
    expect((await loadCa(dir)).trustDomain.name).toBe('cluster.local');
  });
  afterAll(async () => {
    await srv?.server.shutdown(1000);
    t?.cleanup();
  });

  const base = () => ['cert', 'request', '--ca-addr', srv.address, '--ca-bundle', bundle, '--ca-server-name', 'localhost'];

  it("ok/gets a certificate for the token's identity and every check passes", async () => {
    const r = await cli([...base(), '--token-file', token, '--expect-spiffe-id', 'spiffe://cluster.local/ns/castellan-system/sa/castellan-test']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('identity   spiffe://cluster.local/ns/castellan-system/sa/castellan-test');
    expect(r.out).toMatch(/^ok +chain verifies up to a root of the CA bundle$/m);
    expect(r.out).toMatch(/^ok +identity is the expected one$/m);
    expect(r.out).not.toContain('FAIL');
  });

  it('ok/--output json reports every check; the lifetime asked for is the one issued', async () => {
    const r = await cli([...base(), '--token-file', token, '--ttl', '10m', '--output', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as CertRequestReport;
    expect(report.ok).toBe(true);
    expect(report.chainLength).toBe(2);
    expect(report.checks.map((c) => c.name)).toEqual([
      'chain verifies up to a root of the CA bundle',
      'leaf is a valid X509-SVID',
      'leaf holds the generated key',
      'identity in the leaf is the one the CA reported',
    ]);
    const life = Date.parse(report.notAfter) - Date.now();
    expect(life).toBeGreaterThan(8 * 60_000);
    expect(life).toBeLessThanOrEqual(10 * 60_000);
  });

  it('fail/another identity than expected: exit 1, the FAIL line and the reason', async () => {
    const r = await cli([...base(), '--token-file', token, '--expect-spiffe-id', 'spiffe://cluster.local/ns/default/sa/web']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL +identity is the expected one: want /m);
    expect(r.err).toContain('want spiffe://cluster.local/ns/default/sa/web, got spiffe://cluster.local/ns/castellan-system/sa/castellan-test');
  });

  it("fail/a token the CA refuses: exit 1 with the CA's reason", async () => {
    const r = await cli([...base(), '--token-file', wrongAudience]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the CA refused the credentials/);
    expect(r.out).toBe('');
  });

  it('fail/a bundle that does not verify the CA: exit 1, naming --ca-bundle (ERR_CA_UNTRUSTED), no empty "Resolution note:"', async () => {
    const r = await cli(['cert', 'request', '--ca-addr', srv.address, '--ca-bundle', otherBundle, '--ca-server-name', 'localhost', '--token-file', token]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no root in --ca-bundle verifies \(unable to get local issuer certificate\); give --ca-bundle the CA's trust bundle/);
    expect(r.err).not.toContain('Resolution note');
    const j = await cli(['cert', 'request', '--ca-addr', srv.address, '--ca-bundle', otherBundle, '--ca-server-name', 'localhost', '--token-file', token, '--output', 'json']);
    expect(JSON.parse(j.err.trim().split('\n').pop()!)).toMatchObject({ error: { code: 'ERR_CA_UNTRUSTED' } });
  });

  it('fail/missing flags and bad values are usage errors (exit 2)', async () => {
    expect((await cli(['cert', 'request', '--ca-addr', srv.address, '--ca-bundle', bundle])).code).toBe(2);
    expect((await cli([...base(), '--token-file', token, '--ttl', 'soon'])).code).toBe(2);
    expect((await cli([...base(), '--token-file', token, '--expect-spiffe-id', 'web'])).code).toBe(2);
    const missing = await cli([...base(), '--token-file', path.join(t.dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read the token file');
  });
});

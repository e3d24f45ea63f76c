import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, JwtSvidIssuer, keyProviderFor, loadCa, publishedJwtAuthorities } from '../../ca/index.js';
import { SpiffeId, TrustDomain, validateJwtSvid } from '../../workload-identity/index.js';
import { testCaServer } from '../helpers/ca-server.js';
import { cli } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { createSoftHsm, softHsmMissing, type SoftHsm } from '../helpers/softhsm.js';
import { openssl, tempDir } from '../helpers/test-ca.js';

// CI sets CASTELLAN_TEST_REQUIRE_SOFTHSM=1: there a missing SoftHSM fails instead of skipping.
const missing = process.env.CASTELLAN_TEST_REQUIRE_SOFTHSM ? undefined : softHsmMissing();
if (missing) console.warn(`skipping the PKCS#11 CLI tests: ${missing}`);

describe.skipIf(missing !== undefined)('castellan with CA keys in a PKCS#11 token (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let t: ReturnType<typeof tempDir>;
  beforeAll(() => {
    hsm = createSoftHsm(['castellan-ca']);
    t = tempDir();
  });
  afterAll(() => {
    t?.cleanup();
    hsm?.cleanup();
  });
  // The PKCS#11 module and the PIN lookup read this process's environment (the CLI runs in-process).
  const env = () => {
    process.env.CASTELLAN_PKCS11_PIN_FILE = hsm.tokens['castellan-ca']!.pinFile;
    return { SOFTHSM2_CONF: hsm.conf };
  };

  it('ok/ca init generates root and intermediate in the token: the directory holds URIs, no key file; mint, root prepare and rotate use the token', async () => {
    const init = await cli(['ca', 'init', '--dir', 'ca', '--pkcs11-module', hsm.module, '--pkcs11-token', 'castellan-ca'], { cwd: t.dir, env: env() });
    expect(init.err).toBe('');
    expect(init.code).toBe(0);
    expect(init.out).toContain('generated in pkcs11 (token castellan-ca)');
    const a1 = path.join(t.dir, 'ca', 'authorities', '1');
    // The slot's JWT-SVID key (docs/jwt-svid.md) is made in the token too.
    expect(readdirSync(a1).sort()).toEqual(['ca-cert.pem', 'ca-key.pkcs11', 'cert-chain.pem', 'jwt-key.pkcs11', 'root-cert.pem', 'root-key.pkcs11']);
    expect(readFileSync(path.join(a1, 'ca-key.pkcs11'), 'utf8')).toMatch(/^pkcs11:token=castellan-ca;object=castellan-ca-1;id=(%[0-9a-f]{2}){16};type=private\n$/i);
    const state = JSON.parse(readFileSync(path.join(t.dir, 'ca', 'ca.json'), 'utf8'));
    expect(state.keys).toEqual({ pkcs11: { module: hsm.module, token: 'castellan-ca' } });
    expect(JSON.stringify(state)).not.toContain(hsm.tokens['castellan-ca']!.pin);

    const mint = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/web', '--out', 'web'], { cwd: t.dir, env: env() });
    expect(mint.err).toBe('');
    expect(mint.code).toBe(0);
    const w = (f: string) => path.join(t.dir, 'web', f);
    expect(openssl(['verify', '-x509_strict', '-CAfile', w('bundle.pem'), '-untrusted', w('chain.pem'), w('cert.pem')]).stdout.trim()).toMatch(/: OK$/);

    const prep = await cli(['root', 'prepare', '--dir', 'ca'], { cwd: t.dir, env: env() });
    expect(prep.err).toBe('');
    expect(prep.code).toBe(0);
    const a2 = path.join(t.dir, 'ca', 'authorities', '2');
    expect(readdirSync(a2).filter((f) => f.endsWith('.pem') && f.includes('key'))).toEqual([]);
    // The new intermediate is cross-signed by the old root, whose key is in the token too.
    expect(openssl(['verify', '-x509_strict', '-CAfile', path.join(a1, 'root-cert.pem'), path.join(a2, 'cross-cert.pem')]).stdout.trim()).toMatch(/: OK$/);
    const audit = await cli(['audit', 'verify', '--dir', 'ca'], { cwd: t.dir, env: env() });
    expect(audit.code).toBe(0);
  });

  it('ok/the running CA signs with the token and rotates its intermediate in it (new key made in the HSM, under the same root)', async () => {
    env();
    const dir = path.join(t.dir, 'served');
    const stateKeys = { pkcs11: { module: hsm.module, token: 'castellan-ca' } };
    const DAY = 86_400_000;
    // An intermediate of 2 days created 1.5 days ago: past half of its life.
    const before = await initCa({
      dir,
      trustDomain: TrustDomain.of('cluster.local'),
      keys: await keyProviderFor(stateKeys),
      stateKeys,
      intermediateTtlMs: 2 * DAY,
      now: new Date(Date.now() - 1.5 * DAY),
    });
    const ca = await testCaServer(dir, { rotation: { reloadInterval: 100, intermediateRotateAt: 0.5 } }, true);
    try {
      await until(() => ca.server.activeAuthority.issuer.serialHex !== before.active.issuer.serialHex, 'the intermediate rotation');
      const after = await loadCa(dir);
      expect(after.keys.description).toBe('pkcs11 (token castellan-ca)');
      expect(readdirSync(path.join(dir, 'authorities', String(after.active.id))).sort()).toEqual([
        'ca-cert.pem',
        'ca-key.pkcs11',
        'cert-chain.pem',
        'jwt-key.pkcs11',
        'root-cert.pem',
      ]);
      // A JWT-SVID signed by a key in the token (ECDSA from PKCS#11 as R || S) validates with the published key.
      const jwt = new JwtSvidIssuer({ ca: () => after, publishLeadMs: 0 }).issue(SpiffeId.parse('spiffe://cluster.local/ns/a/sa/b'), ['x']);
      expect(validateJwtSvid(jwt.token, 'x', () => publishedJwtAuthorities(after), new Date()).spiffeId.toString()).toBe('spiffe://cluster.local/ns/a/sa/b');
      const a = path.join(dir, 'authorities', String(after.active.id));
      expect(openssl(['verify', '-x509_strict', '-CAfile', path.join(a, 'root-cert.pem'), path.join(a, 'ca-cert.pem')]).stdout.trim()).toMatch(/: OK$/);
    } finally {
      await ca.server.shutdown(100);
    }
  });

  it('fail/without the PIN a command says where to give it', async () => {
    delete process.env.CASTELLAN_PKCS11_PIN_FILE;
    const r = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/web', '--out', 'web2'], { cwd: t.dir });
    expect(r.code).toBe(1);
    expect(r.err).toContain('CASTELLAN_PKCS11_PIN_FILE');
  });
});

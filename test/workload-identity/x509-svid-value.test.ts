import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../ca/index.js';
import { createSvidRequest, pemDecode, SpiffeId, X509Svid } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';
import { opensslNewEcKey, testCa } from '../helpers/test-ca.js';

describe('X509Svid', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa();
  });
  afterAll(() => ca.cleanup());

  const issued = async () => {
    const key = generateKey('ec-p256').privateKey;
    const id = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart');
    const c = ca.issuer.issue(id, await createSvidRequest(key, id), { ttlMs: 3_600_000 });
    const chainPem = c.leafPem + c.chainPem.slice(0, -1).join('');
    return { key, c, chainPem, chain: pemDecode(chainPem, 'CERTIFICATE') };
  };

  it('ok/inspect, a spread, Object.keys and JSON show identity and dates, never the key (the key is read by name only)', async () => {
    const { key, chain } = await issued();
    const svid = X509Svid.of(chain, key);
    for (const shown of [inspect(svid), inspect({ svid }, { depth: 5 }), JSON.stringify({ ...svid }), JSON.stringify(svid), Object.keys(svid).join(',')]) {
      expect(shown).not.toContain('PRIVATE KEY');
      expect(shown).not.toMatch(/keyPem|keyPkcs8Der/);
    }
    expect(inspect(svid)).toContain('spiffe://cluster.local/ns/shop/sa/cart');
    expect(svid.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(svid.keyPkcs8Der.length).toBeGreaterThan(0);
  });

  /** A self-signed certificate made by openssl with this subjectAltName, and its key. */
  const selfSigned = (san: string) => {
    const keyFile = path.join(ca.dir, 'ss.key');
    const certFile = path.join(ca.dir, 'ss.pem');
    const r = opensslNewEcKey({ x509: true, keyOut: keyFile, out: certFile, subj: '/CN=x', extra: ['-days', '1', '-addext', `subjectAltName=${san}`] });
    if (r.status !== 0) throw new Error(r.stderr);
    return { chain: pemDecode(readFileSync(certFile, 'utf8'), 'CERTIFICATE'), key: createPrivateKey(readFileSync(keyFile, 'utf8')) };
  };

  it("ok/the identity, chain and key of an issued SVID, with its encodings and the leaf's serial and validity", async () => {
    const { key, c, chainPem, chain } = await issued();
    const svid = X509Svid.of(chain, key);
    expect(svid.id.equals(SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart'))).toBe(true);
    expect(svid.chain.map((d) => d.toString('base64'))).toEqual(chain.map((d) => d.toString('base64')));
    expect(svid.chainPem).toBe(chainPem);
    expect(svid.keyPem).toBe(key.export({ format: 'pem', type: 'pkcs8' }));
    expect(svid.keyPkcs8Der.equals(key.export({ format: 'der', type: 'pkcs8' }))).toBe(true);
    const leaf = new X509Certificate(c.leafPem);
    expect(svid.serialHex).toBe(c.serialHex);
    expect(svid.notAfter.toISOString()).toBe(new Date(leaf.validTo).toISOString());
    expect(svid.notBefore.toISOString()).toBe(new Date(leaf.validFrom).toISOString());
    expect(Object.isFrozen(svid)).toBe(true);
    expect(Object.isFrozen(svid.chain)).toBe(true);
  });

  it('ok/its JSON (what a log line would hold) names the identity and never the key', async () => {
    const { key, chain } = await issued();
    const json = JSON.stringify({ svid: X509Svid.of(chain, key) });
    expect(JSON.parse(json)).toMatchObject({ svid: { id: 'spiffe://cluster.local/ns/shop/sa/cart' } });
    expect(json).not.toMatch(/PRIVATE KEY/);
    expect(json).not.toContain(key.export({ format: 'der', type: 'pkcs8' }).toString('base64').slice(40, 80));
  });

  it('fail/a chain and key that do not make an SVID: coded errors', async () => {
    const { chain } = await issued();
    const other = generateKey('ec-p256').privateKey;
    const cases: [string, () => unknown, string][] = [
      ['fail/an empty chain', () => X509Svid.of([], other), 'ERR_SVID_MALFORMED'],
      ['fail/a chain element that is no certificate', () => X509Svid.of([chain[0]!, Buffer.from('not DER')], other), 'ERR_SVID_MALFORMED'],
      ['fail/the key of another certificate', () => X509Svid.of(chain, other), 'ERR_SVID_KEY_MISMATCH'],
    ];
    for (const [name, fn, code] of cases) expect([name, codeOf(fn)]).toEqual([name, code]);
  });

  it('fail/a leaf without exactly one SPIFFE ID in its URI SANs (with its own key)', () => {
    const cases: [string, string, string][] = [
      ['fail/no URI SAN', 'DNS:example.org', 'ERR_SVID_NO_URI_SAN'],
      ['fail/two URI SANs', 'URI:spiffe://td/a,URI:spiffe://td/b', 'ERR_SVID_MULTIPLE_URI_SANS'],
      ['fail/a URI SAN that is no SPIFFE ID', 'URI:https://td/a', 'ERR_SVID_BAD_SPIFFE_ID'],
    ];
    for (const [name, san, code] of cases) {
      const s = selfSigned(san);
      expect([name, codeOf(() => X509Svid.of(s.chain, s.key))]).toEqual([name, code]);
    }
    const good = selfSigned('URI:spiffe://td/ns/a/sa/b');
    expect(X509Svid.of(good.chain, good.key).id.toString()).toBe('spiffe://td/ns/a/sa/b');
  });

  it('fail/a public key is a programming error (TypeError)', async () => {
    const { chain } = await issued();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => X509Svid.of(chain, publicKey)).toThrow(TypeError);
  });
});

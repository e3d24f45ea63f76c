import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, Issuer, loadCa, parseCsr } from '../../../ca/index.js';
import { SpiffeId, TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { failureOf } from '../../helpers/error-code.js';
import { tempDir } from '../../helpers/test-ca.js';

const TD = TrustDomain.of('cluster.local');
let t: ReturnType<typeof tempDir>;
let dir: string;
let bundlePem: string;
beforeAll(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  bundlePem = (await initCa({ dir, trustDomain: TD })).bundle.map((c) => c.pem).join('');
});
afterAll(() => t.cleanup());

describe('server hardening', () => {
  it('ok/the CA serves an identity that no service account maps to', async () => {
    const s = await testCaServer(dir, {}, true);
    try {
      const leaf = new X509Certificate(s.server.servingChain.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
      expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/castellan/ca, DNS:castellan.castellan-system.svc, DNS:localhost');
    } finally {
      await s.server.shutdown(500);
    }
  });

  it('fail/an unauthenticated flood from one address hits the per-peer limit before any authentication', async () => {
    const s = await testCaServer(dir, { limits: { perPeer: { ratePerSecond: 0.001, burst: 3 } } }, true);
    const c = caClients(s.address, bundlePem);
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem })).code);
      expect(codes).toEqual([16, 16, 16, 8]); // UNAUTHENTICATED x3, then RESOURCE_EXHAUSTED
    } finally {
      c.close();
      await s.server.shutdown(500);
    }
  });

  it('fail/an unreachable JWKS backend is UNAVAILABLE with a fixed message; the detail goes to the log only', async () => {
    const s = await testCaServer(dir, { authentication: { jwks: { issuer: 'https://127.0.0.1:9', discoveryUrl: 'https://127.0.0.1:9/.well-known/openid-configuration' } } });
    const c = caClients(s.address, bundlePem);
    try {
      const { generateKeyPairSync } = await import('node:crypto');
      const { mintServiceAccountToken } = await import('../../../workload-identity/index.js');
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const tok = await mintServiceAccountToken(key, 'k1', { issuer: 'https://127.0.0.1:9', audiences: ['castellan'], namespace: 'a', serviceAccount: 'b', ttlSeconds: 600 });
      const r = await unary(c.istio, 'CreateCertificate', { csr: (await testCsr()).pem }, tok);
      expect(r.code).toBe(14);
      expect(r.details).toBe('auth: the authentication backend is unavailable; retry later');
      expect(s.lines.join('')).toContain('127.0.0.1:9');
    } finally {
      c.close();
      await s.server.shutdown(500);
    }
  });
});

describe('CA directory hardening', () => {
  it('fail/a root-cert.pem swapped for another hierarchy is detected at load', async () => {
    const x = tempDir();
    try {
      await initCa({ dir: path.join(x.dir, 'a'), trustDomain: TD });
      await initCa({ dir: path.join(x.dir, 'b'), trustDomain: TD });
      copyFileSync(path.join(x.dir, 'b/authorities/1/root-cert.pem'), path.join(x.dir, 'a/authorities/1/root-cert.pem'));
      const f = await failureOf(loadCa(path.join(x.dir, 'a')));
      expect(f?.code).toBe('ERR_CA_DIR');
      expect(f?.message).toContain('does not chain to root-cert.pem');
    } finally {
      x.cleanup();
    }
  });

  it('ok/init tightens an existing directory that others could enter to 0700', async () => {
    const x = tempDir();
    try {
      const d = path.join(x.dir, 'open');
      mkdirSync(d);
      chmodSync(d, 0o777);
      await initCa({ dir: d, trustDomain: TD });
      expect((statSync(d).mode & 0o777).toString(8)).toBe('700');
    } finally {
      x.cleanup();
    }
  });

  it('fail/the issuer refuses a hand-built request object (no proof of possession)', async () => {
    const ca = await loadCa(dir);
    const real = parseCsr((await testCsr()).pem);
    const forged = { ...real };
    expect(() => new Issuer({ authority: ca.active }).issue(SpiffeId.parse('spiffe://cluster.local/ns/a/sa/b'), forged)).toThrow(TypeError);
  });
});

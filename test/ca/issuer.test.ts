import 'reflect-metadata';
import { X509Certificate as NodeCertificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_NAME, encodeTbs, Issuer, parseCsr, randomSerial, svidExtensions, SvidTemplate, type KeyType } from '../../ca/index.js';
import { SpiffeId, validateX509SvidLeaf } from '../../workload-identity/index.js';
import { tamperSignature, testCsr } from '../helpers/csr.js';
import { openssl, opensslVerify, testCa } from '../helpers/test-ca.js';
import { codeOf } from '../helpers/error-code.js';

const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');

describe('issuer', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa();
  });
  afterAll(() => ca.cleanup());

  for (const key of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
    it(`ok/${key} CSR gives an X509-SVID that openssl verifies with -x509_strict`, async () => {
      const { pem } = await testCsr({ key, uris: [ID.toString()] });
      const cert = ca.issuer.issue(ID, pem, { ttlMs: 3_600_000 });
      expect(cert.chainPem).toHaveLength(2); // intermediate, root
      const parsed = new x509.X509Certificate(cert.leafPem);
      expect(validateX509SvidLeaf(parsed).toString()).toBe(ID.toString());
      expect(parsed.subject).toBe('');
      const v = opensslVerify(ca.dir, cert.leafPem, cert.chainPem);
      expect(v.stderr).toBe('');
      expect(v.stdout.trim()).toMatch(/: OK$/);
      expect(v.status).toBe(0);
    });
  }

  it('ok/openssl x509 -text shows the URI SAN and the critical extensions', async () => {
    const { pem } = await testCsr();
    const cert = ca.issuer.issue(ID, pem);
    const text = openssl(['x509', '-noout', '-text'], cert.leafPem).stdout;
    expect(text).toContain('X509v3 Subject Alternative Name: critical');
    expect(text).toContain(`URI:${ID.toString()}`);
    expect(text).toContain('X509v3 Basic Constraints: critical');
    expect(text).toContain('CA:FALSE');
    expect(text).toContain('X509v3 Key Usage: critical');
    expect(text).toContain('Digital Signature');
    expect(text).not.toContain('Certificate Sign');
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toContain('X509v3 Authority Key Identifier');
  });

  it('ok/RSA leaves also get keyEncipherment, EC leaves only digitalSignature', async () => {
    const rsa = ca.issuer.issue(ID, (await testCsr({ key: 'rsa-2048' })).pem);
    const ec = ca.issuer.issue(ID, (await testCsr({ key: 'ec-p256' })).pem);
    const usages = (pem: string) => new x509.X509Certificate(pem).getExtension(x509.KeyUsagesExtension)!.usages;
    expect(usages(rsa.leafPem)).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(usages(ec.leafPem)).toBe(x509.KeyUsageFlags.digitalSignature);
  });

  it('ok/serials are 16-byte positive and distinct; notBefore backdated 60 s; default ttl 24 h', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const t = await testCa({ now: new Date('2029-12-01T00:00:00Z'), issuer: { now: () => now } });
    try {
      const { pem } = await testCsr();
      const serials = new Set<string>();
      for (let i = 0; i < 50; i++) {
        const c = t.issuer.issue(ID, pem);
        expect(c.serialHex).toMatch(/^[0-7][0-9a-f]{31}$/);
        expect(c.serialHex.startsWith('00')).toBe(false);
        serials.add(c.serialHex);
        expect(c.notBefore.getTime()).toBe(now.getTime() - 60_000);
        expect(c.notAfter.getTime()).toBe(now.getTime() + 24 * 3_600_000);
      }
      expect(serials.size).toBe(50);
    } finally {
      t.cleanup();
    }
  });

  it('ok/a TTL that would outlive the issuer is capped to its notAfter', async () => {
    const start = new Date('2030-01-01T00:00:00Z');
    const t = await testCa({ now: start, intermediateTtlMs: 2 * 3_600_000, issuer: { now: () => new Date(start.getTime() + 3_600_000) } });
    try {
      const c = t.issuer.issue(ID, (await testCsr()).pem, { ttlMs: 10 * 3_600_000 });
      expect(c.cappedByIssuer).toBe(true);
      expect(c.notAfter.getTime()).toBe(t.ca.active.issuer.notAfter.getTime());
    } finally {
      t.cleanup();
    }
  });

  it('fail/an expired issuer refuses to sign', async () => {
    const start = new Date('2030-01-01T00:00:00Z');
    const t = await testCa({ now: start, intermediateTtlMs: 3_600_000, issuer: { now: () => new Date(start.getTime() + 2 * 3_600_000) } });
    try {
      const { pem } = await testCsr();
      expect(codeOf(() => t.issuer.issue(ID, pem))).toBe('ERR_ISSUER_EXPIRED');
    } finally {
      t.cleanup();
    }
  });

  describe('TTL limits', () => {
    let pem: string;
    beforeAll(async () => {
      pem = (await testCsr()).pem;
    });
    it('fail/ttl above max is refused, not shortened', () => {
      expect(codeOf(() => ca.issuer.issue(ID, pem, { ttlMs: 8 * 24 * 3_600_000 }))).toBe('ERR_TTL_TOO_LONG');
    });
    it('fail/negative ttl', () => expect(codeOf(() => ca.issuer.issue(ID, pem, { ttlMs: -5 }))).toBe('ERR_TTL_INVALID'));
    it('fail/NaN ttl', () => expect(codeOf(() => ca.issuer.issue(ID, pem, { ttlMs: Number.NaN }))).toBe('ERR_TTL_INVALID'));
    it('ok/ttl 0 means the default', () => {
      const c = ca.issuer.issue(ID, pem, { ttlMs: 0 });
      expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(24 * 3_600_000 + 60_000);
    });
    it('ok/ttl exactly max is accepted', () => {
      expect(() => ca.issuer.issue(ID, pem, { ttlMs: 7 * 24 * 3_600_000 })).not.toThrow();
    });
  });

  describe('refusals, each with its own code', () => {
    const cases: [string, () => Promise<string | Uint8Array>, string, SpiffeId?][] = [
      ['fail/garbage', async () => 'hello, I am not a CSR', 'ERR_CSR_MALFORMED'],
      ['fail/garbage bytes (complete DER, wrong structure)', async () => Buffer.from([0x30, 0x02, 0x05, 0x00]), 'ERR_CSR_MALFORMED'],
      ['fail/empty', async () => '', 'ERR_CSR_MALFORMED'],
      ['fail/truncated DER', async () => (await testCsr()).der.subarray(0, 60), 'ERR_CSR_TRUNCATED'],
      ['fail/trailing bytes', async () => Buffer.concat([(await testCsr()).der, Buffer.from([0])]), 'ERR_CSR_MALFORMED'],
      ['fail/PEM without END line', async () => (await testCsr()).pem.split('-----END')[0]!, 'ERR_CSR_MALFORMED'],
      ['fail/PEM body not base64', async () => '-----BEGIN CERTIFICATE REQUEST-----\n%%%%\n-----END CERTIFICATE REQUEST-----\n', 'ERR_CSR_MALFORMED'],
      ['fail/bad signature', async () => tamperSignature((await testCsr()).der), 'ERR_CSR_SIGNATURE'],
      ['fail/RSA-1024 key', async () => (await testCsr({ key: 'rsa-1024' })).pem, 'ERR_CSR_KEY_WEAK'],
      ['fail/P-521 key', async () => (await testCsr({ key: 'ec-p521' })).pem, 'ERR_CSR_KEY_UNSUPPORTED'],
      ['fail/CA:true request', async () => (await testCsr({ ca: true })).pem, 'ERR_CSR_CA_REQUESTED'],
      ['fail/keyCertSign request', async () => (await testCsr({ keyUsage: x509.KeyUsageFlags.keyCertSign })).pem, 'ERR_CSR_KEY_USAGE'],
      ['fail/cRLSign request', async () => (await testCsr({ keyUsage: x509.KeyUsageFlags.cRLSign })).pem, 'ERR_CSR_KEY_USAGE'],
      ['fail/SAN of another SA', async () => (await testCsr({ uris: ['spiffe://cluster.local/ns/default/sa/other'] })).pem, 'ERR_SAN_MISMATCH'],
      ['fail/two URI SANs', async () => (await testCsr({ uris: [ID.toString(), ID.toString()] })).pem, 'ERR_SAN_MISMATCH'],
      ['fail/DNS SAN without policy', async () => (await testCsr({ dns: ['web.default.svc'] })).pem, 'ERR_SAN_MISMATCH'],
      ['fail/email SAN', async () => (await testCsr({ emails: ['a@example.com'] })).pem, 'ERR_SAN_MISMATCH'],
      ['fail/identity outside the trust domain', async () => (await testCsr()).pem, 'ERR_SAN_MISMATCH', SpiffeId.parse('spiffe://other.td/ns/a/sa/b')],
      ['fail/trust-domain-only identity', async () => (await testCsr()).pem, 'ERR_SAN_MISMATCH', SpiffeId.parse('spiffe://cluster.local')],
    ];
    for (const [name, make, code, id] of cases) {
      it(name, async () => {
        const input = await make();
        expect(codeOf(() => ca.issuer.issue(id ?? ID, input))).toBe(code);
      });
    }
    it('ok/CA:false and digitalSignature requests are fine (they ask for nothing a leaf may not have)', async () => {
      const { pem } = await testCsr({ ca: false, keyUsage: x509.KeyUsageFlags.digitalSignature, uris: [ID.toString()] });
      expect(() => ca.issuer.issue(ID, pem)).not.toThrow();
    });
    it('ok/a subject in the CSR is ignored: the leaf subject stays empty', async () => {
      const { pem } = await testCsr({ subject: 'CN=admin, O=system:masters' });
      expect(new x509.X509Certificate(ca.issuer.issue(ID, pem).leafPem).subject).toBe('');
    });
  });

  it('ok/DNS SANs are copied after the URI SAN when policy allows them', async () => {
    const issuer = new Issuer({ authority: ca.ca.active, allowDnsSans: true });
    const { pem } = await testCsr({ uris: [ID.toString()], dns: ['web.default.svc', '*.web.default.svc'] });
    const cert = issuer.issue(ID, pem);
    const node = new NodeCertificate(cert.leafPem);
    expect(node.subjectAltName).toBe(`URI:${ID.toString()}, DNS:web.default.svc, DNS:*.web.default.svc`);
    expect(opensslVerify(ca.dir, cert.leafPem, cert.chainPem).status).toBe(0);
    const bad = await testCsr({ dns: ['bad_name!'] });
    expect(codeOf(() => issuer.issue(ID, bad.pem))).toBe('ERR_CSR_MALFORMED');
  });
});

describe('svid template', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa();
  });
  afterAll(() => ca.cleanup());

  const longId = `spiffe://cluster.local/ns/${'n'.repeat(63)}/sa/${'s'.repeat(120)}`;
  const cases: [string, string, string[], Date, Date, 'ec-p256' | 'rsa-2048'][] = [
    ['ok/short id, EC', ID.toString(), [], new Date('2030-05-01T10:20:30Z'), new Date('2030-05-02T10:20:30Z'), 'ec-p256'],
    ['ok/long id (long-form lengths), RSA', longId, [], new Date('2031-01-01T00:00:00Z'), new Date('2031-01-01T01:00:00Z'), 'rsa-2048'],
    ['ok/DNS names', ID.toString(), ['x.y', 'z.w'], new Date('2030-01-01T00:00:00Z'), new Date('2030-01-02T00:00:00Z'), 'ec-p256'],
    ['ok/GeneralizedTime after 2049', ID.toString(), [], new Date('2049-12-31T23:00:00Z'), new Date('2050-01-01T01:00:00Z'), 'ec-p256'],
  ];
  for (const [name, uri, dns, nb, na, key] of cases) {
    it(`${name}: template bytes equal the @peculiar/asn1-x509 encoding`, async () => {
      const req = parseCsr((await testCsr({ key })).der);
      const template = new SvidTemplate(ca.ca.active.issuer, ca.ca.active.signer);
      const serial = randomSerial();
      const fast = template.tbs(req, uri, dns, serial, nb, na);
      const reference = encodeTbs(
        {
          serial,
          issuer: ca.ca.active.issuer.subject,
          subject: EMPTY_NAME,
          notBefore: nb,
          notAfter: na,
          spki: req.spki,
          extensions: svidExtensions(req, ca.ca.active.issuer.ski, uri, dns),
        },
        ca.ca.active.signer.signatureAlgorithm.der,
      );
      expect(fast.toString('hex')).toBe(reference.toString('hex'));
    });
  }
});

describe('issuance with other CA key types', () => {
  for (const keyType of ['ec-p384', 'rsa-2048'] as KeyType[]) {
    it(`ok/${keyType} CA issues chains openssl accepts`, async () => {
      const t = await testCa({ keyType });
      try {
        const cert = t.issuer.issue(ID, (await testCsr()).pem);
        const v = opensslVerify(t.dir, cert.leafPem, cert.chainPem);
        expect(v.stdout.trim()).toMatch(/: OK$/);
        writeFileSync(path.join(t.dir, 'leaf.pem'), cert.leafPem);
      } finally {
        t.cleanup();
      }
    });
  }
});

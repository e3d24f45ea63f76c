import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE } from '../../ca/index.js';
import { run } from '../../cli/main.js';
import type { CliIo } from '../../cli/io.js';
import { SpiffeId } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { openssl, opensslNewEcKey, testCa } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/default/sa/web';
const HOUR = 3_600_000;

/** Runs `castellan` in-process in `cwd`, capturing stdout and stderr. */
async function castellan(cwd: string, argv: string[], now: () => Date = () => new Date()): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => void (out += s), err: (s) => void (err += s), cwd, env: {}, now };
  const code = await run(argv, io);
  return { code, out, err };
}

interface JsonCert {
  subject: string;
  issuer: string;
  sans: { type: string; value: string }[];
  notBefore: string;
  notAfter: string;
  secondsLeft: number;
  validity: string;
  key: { type: string; curve?: string; bits?: number; description: string };
  serial: string;
  sha256Fingerprint: string;
  ca: boolean;
  pathLen?: number;
  svid: { valid: boolean; role: string; spiffeId?: string; code?: string; message?: string };
}
interface JsonFile {
  file: string;
  certificates: JsonCert[];
  chain?: { verified: boolean; path?: string[]; error?: string };
}

/** What openssl says after `=` for `x509 -noout <flag>`. */
function opensslField(pem: string, ...flags: string[]): string {
  const r = openssl(['x509', '-noout', ...flags], pem);
  expect(r.status).toBe(0);
  return r.stdout.trim().split('=')[1]!;
}

describe('castellan cert inspect', () => {
  let t: Awaited<ReturnType<typeof testCa>>;
  let other: Awaited<ReturnType<typeof testCa>>;
  let leafPem: string;
  let leafNotAfter: Date;
  const bundle = path.join('ca', BUNDLE_FILE);
  const otherBundle = 'other-bundle.pem';

  beforeAll(async () => {
    [t, other] = await Promise.all([testCa(), testCa({ trustDomain: 'example.org' })]);
    const cert = t.issuer.issue(SpiffeId.parse(ID), (await testCsr()).pem, { ttlMs: HOUR });
    leafPem = cert.leafPem;
    leafNotAfter = new Date(Math.floor(cert.notAfter.getTime() / 1000) * 1000); // X.509 times have whole seconds
    writeFileSync(path.join(t.dir, 'chain.pem'), cert.leafPem + cert.chainPem.join(''));
    writeFileSync(path.join(t.dir, 'leaf.pem'), cert.leafPem);
    writeFileSync(path.join(t.dir, 'root.pem'), t.ca.active.root.pem);
    writeFileSync(path.join(t.dir, 'intermediate.pem'), t.ca.active.issuer.pem);
    writeFileSync(path.join(t.dir, otherBundle), other.ca.bundle.map((c) => c.pem).join(''));
    writeFileSync(path.join(t.dir, 'mixed.pem'), cert.leafPem + other.ca.active.issuer.pem);
    const rsa = t.issuer.issue(SpiffeId.parse(ID), (await testCsr({ key: 'rsa-2048' })).pem, { ttlMs: HOUR });
    writeFileSync(path.join(t.dir, 'rsa.pem'), rsa.leafPem + rsa.chainPem.join(''));
  });
  afterAll(() => {
    t.cleanup();
    other.cleanup();
  });

  it('ok/text output shows every field of a leaf+chain file, agreeing with openssl', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const leaf = r.out.split('certificate 2 of 3')[0]!;
    expect(r.out).toMatch(/^chain\.pem: 3 certificates\n/);
    expect(leaf).toMatch(/\n {2}subject {5}\(empty\)\n/);
    expect(leaf).toContain(`  SANs        URI:${ID}\n`);
    expect(leaf).toContain(`  SPIFFE ID   ${ID}\n`);
    expect(leaf).toContain('  issuer      O=cluster.local, CN=Castellan Intermediate 1\n');
    expect(leaf).toMatch(/ {2}not after {3}\S+Z \(59m\d+s left\)\n/);
    expect(leaf).toContain('  key         EC P-256\n');
    expect(leaf).toContain(`  serial      ${opensslField(leafPem, '-serial').toLowerCase()}\n`);
    expect(leaf).toContain(`  SHA-256     ${opensslField(leafPem, '-fingerprint', '-sha256')}\n`);
    expect(leaf).toContain('  CA          no\n');
    expect(leaf).toContain('  X509-SVID   valid X509-SVID (leaf)\n');
    // The intermediate and the root are signing certificates.
    expect(r.out).toContain('  CA          yes (pathLen 0)\n');
    expect(r.out.match(/valid X509-SVID signing certificate/g)).toHaveLength(2);
    expect(r.out).not.toContain('chain:'); // no --bundle, no chain verdict
  });

  it('ok/json output is a stable document agreeing with openssl', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--output', 'json']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\[\n {2}\{\n {4}"file": "chain.pem",/); // 2-space indentation
    const doc = JSON.parse(r.out) as JsonFile[];
    expect(doc).toHaveLength(1);
    expect(doc[0]!.chain).toBeUndefined();
    const [leaf, mid, root] = doc[0]!.certificates;
    expect(leaf).toMatchObject({
      subject: '',
      issuer: 'O=cluster.local, CN=Castellan Intermediate 1',
      sans: [{ type: 'uri', value: ID }],
      validity: 'valid',
      key: { type: 'EC', curve: 'P-256', bits: 256, description: 'EC P-256' },
      serial: opensslField(leafPem, '-serial').toLowerCase(),
      sha256Fingerprint: opensslField(leafPem, '-fingerprint', '-sha256'),
      ca: false,
      svid: { valid: true, role: 'leaf', spiffeId: ID },
    });
    expect(leaf!.svid).not.toHaveProperty('code');
    expect(leaf!.notAfter).toBe(new Date(leaf!.notAfter).toISOString());
    expect(leaf!.secondsLeft).toBeGreaterThan(HOUR / 1000 - 60);
    expect(leaf!.secondsLeft).toBeLessThanOrEqual(HOUR / 1000);
    expect(mid).toMatchObject({ ca: true, pathLen: 0, svid: { valid: true, role: 'signing', spiffeId: 'spiffe://cluster.local' } });
    expect(root).toMatchObject({ ca: true, subject: 'O=cluster.local, CN=Castellan Root CA 1', svid: { valid: true, role: 'signing' } });
  });

  it('ok/chain verifies against the CA bundle', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--bundle', bundle]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`\nchain: OK (${ID} -> O=cluster.local, CN=Castellan Intermediate 1 -> O=cluster.local, CN=Castellan Root CA 1)\n`);
    const json = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--bundle', bundle, '--output', 'json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.out) as JsonFile[])[0]!.chain).toEqual({
      verified: true,
      path: [ID, 'O=cluster.local, CN=Castellan Intermediate 1', 'O=cluster.local, CN=Castellan Root CA 1'],
    });
  });

  it('ok/an RSA leaf shows its key size', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'rsa.pem', '--bundle', bundle]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  key         RSA 2048\n');
    expect(r.out).toContain('chain: OK (');
  });

  it('fail/chain against another CA bundle does not verify (exit 1)', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--bundle', otherBundle]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("\nchain: FAILED: O=cluster.local, CN=Castellan Root CA 1 (the file's root) is not in the bundle\n");
    expect(r.err).toBe('castellan: cert: 1 chain failed to verify\n');
  });

  it('fail/a signing certificate from another trust domain than the leaf fails the signing rules', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'mixed.pem', '--output', 'json']);
    expect(r.code).toBe(1);
    const [leaf, mid] = (JSON.parse(r.out) as JsonFile[])[0]!.certificates;
    expect(leaf!.svid.valid).toBe(true);
    expect(mid!.svid).toMatchObject({ valid: false, role: 'signing', spiffeId: 'spiffe://example.org', code: 'ERR_SVID_TRUST_DOMAIN_MISMATCH' });
  });

  it('fail/a leaf without its intermediate does not verify (exit 1)', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'leaf.pem', '--bundle', bundle, '--output', 'json']);
    expect(r.code).toBe(1);
    const chain = (JSON.parse(r.out) as JsonFile[])[0]!.chain!;
    expect(chain.verified).toBe(false);
    expect(chain.error).toContain(`no issuer of ${ID}`);
  });

  it('fail/one failing file among several fails the run, and every file is reported', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', 'leaf.pem', '--bundle', bundle, '--output', 'json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as JsonFile[];
    expect(doc.map((f) => [f.file, f.chain?.verified])).toEqual([
      ['chain.pem', true],
      ['leaf.pem', false],
    ]);
  });

  it('fail/an expired leaf shows EXPIRED and fails chain verification', async () => {
    const later = new Date(leafNotAfter.getTime() + 2 * HOUR);
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--bundle', bundle], () => later);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`  not after   ${leafNotAfter.toISOString()} (EXPIRED 2h ago)\n`);
    expect(r.out).toMatch(new RegExp(`\\nchain: FAILED: ${ID} expired at \\S+Z\\n`));
    const json = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--bundle', bundle, '--output', 'json'], () => later);
    const leaf = (JSON.parse(json.out) as JsonFile[])[0]!.certificates[0]!;
    expect(leaf.validity).toBe('expired');
    expect(leaf.secondsLeft).toBe(-2 * 3600);
    expect(leaf.svid.valid).toBe(true); // the X509-SVID rules ignore dates
  });

  it('fail/a leaf that is not valid yet fails chain verification', async () => {
    const before = new Date(leafNotAfter.getTime() - 3 * HOUR);
    const r = await castellan(t.dir, ['cert', 'inspect', 'leaf.pem'], () => before);
    expect(r.code).toBe(0); // without --bundle dates do not fail the run
    expect(r.out).toContain('NOT YET VALID, starts in');
  });

  for (const [file, label, pathLen] of [
    ['root.pem', 'CA          yes\n', undefined],
    ['intermediate.pem', 'CA          yes (pathLen 0)\n', 0],
  ] as const) {
    it(`ok/${file} shows a CA and the signing-certificate verdict`, async () => {
      const r = await castellan(t.dir, ['cert', 'inspect', file]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`  ${label}`);
      expect(r.out).toContain('  SPIFFE ID   spiffe://cluster.local\n');
      expect(r.out).toContain('  X509-SVID   valid X509-SVID signing certificate\n');
      const json = JSON.parse((await castellan(t.dir, ['cert', 'inspect', file, '--output', 'json'])).out) as JsonFile[];
      const c = json[0]!.certificates[0]!;
      expect(c.ca).toBe(true);
      expect(c.pathLen).toBe(pathLen);
      expect(c.svid).toEqual({ valid: true, role: 'signing', spiffeId: 'spiffe://cluster.local' });
    });
  }

  it('ok/a root in the bundle verifies as its own chain', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'root.pem', '--bundle', bundle]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('\nchain: OK (O=cluster.local, CN=Castellan Root CA 1)\n');
  });

  describe('certificates made by openssl', () => {
    const cnf = [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[web]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'subjectAltName = DNS:example.com, IP:127.0.0.1, email:ops@example.com',
    ].join('\n');
    const selfSigned = (name: string, extra: string[]) => {
      const r = opensslNewEcKey({ x509: true, keyOut: path.join(t.dir, `${name}.key`), out: path.join(t.dir, `${name}.pem`), subj: '/CN=x', extra });
      expect(r.status, r.stderr).toBe(0);
    };

    it('fail/a plain `openssl req -x509` CA shows the failing signing rule (exit 1)', async () => {
      selfSigned('plain', []);
      const r = await castellan(t.dir, ['cert', 'inspect', 'plain.pem', '--output', 'json']);
      expect(r.code).toBe(1);
      // With --output json the summary is the one JSON error line (docs/cli.md, JSON errors).
      expect(JSON.parse(r.err)).toEqual({ error: { code: 'ERR_CERT_CHECK_FAILED', message: 'cert: 1 certificate is not a valid X509-SVID' } });
      const c = (JSON.parse(r.out) as JsonFile[])[0]!.certificates[0]!;
      expect(c).toMatchObject({ subject: 'CN=x', ca: true, sans: [], key: { description: 'EC P-256' } });
      expect(c.svid).toMatchObject({ valid: false, role: 'signing', code: 'ERR_SVID_NO_KEY_USAGE' });
      expect(c.svid).not.toHaveProperty('spiffeId');
      const text = await castellan(t.dir, ['cert', 'inspect', 'plain.pem']);
      expect(text.code).toBe(1);
      expect(text.err).toBe('castellan: cert: 1 certificate is not a valid X509-SVID\n');
      expect(text.out).toContain('  SANs        (none)\n');
      expect(text.out).toContain('  SPIFFE ID   (none)\n');
      expect(text.out).toContain('  X509-SVID   INVALID signing certificate: ERR_SVID_NO_KEY_USAGE: x509svid: ');
    });

    it('fail/a web server certificate shows its SANs and the failing leaf rule; DER is read too', async () => {
      writeFileSync(path.join(t.dir, 'web.cnf'), cnf);
      selfSigned('web', ['-config', path.join(t.dir, 'web.cnf'), '-extensions', 'web']);
      const der = openssl(['x509', '-in', path.join(t.dir, 'web.pem'), '-outform', 'DER', '-out', path.join(t.dir, 'web.der')]);
      expect(der.status, der.stderr).toBe(0);
      for (const file of ['web.pem', 'web.der']) {
        const r = await castellan(t.dir, ['cert', 'inspect', file]);
        expect(r.code).toBe(1);
        expect(r.out).toContain('  SANs        DNS:example.com\n              IP:127.0.0.1\n              EMAIL:ops@example.com\n');
        expect(r.out).toContain('  CA          no\n');
        expect(r.out).toContain('  X509-SVID   INVALID leaf: ERR_SVID_NO_URI_SAN: x509svid: leaf has no URI SAN');
      }
    });
  });

  it('fail/a missing file exits 1 naming the file', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', 'missing.pem']);
    expect(r.code).toBe(1);
    expect(r.out).toBe(''); // nothing partial
    expect(r.err).toBe('castellan: cert: cannot read missing.pem: no such file\n');
  });

  it('fail/a missing bundle exits 1 naming the file', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--bundle', 'nope.pem']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('nope.pem');
  });

  it('fail/a file without a certificate exits 1 naming the file', async () => {
    writeFileSync(path.join(t.dir, 'notes.txt'), 'hello\n');
    const key = await castellan(t.dir, ['cert', 'inspect', 'ca/authorities/1/ca-key.pem']);
    expect(key.code).toBe(1);
    expect(key.err).toBe('castellan: cert: ca/authorities/1/ca-key.pem holds no CERTIFICATE PEM block\n');
    const text = await castellan(t.dir, ['cert', 'inspect', 'notes.txt']);
    expect(text.code).toBe(1);
    expect(text.err).toBe('castellan: cert: notes.txt is neither PEM nor a DER certificate\n');
  });

  it('fail/no FILE is a usage error (exit 2)', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("missing required argument 'file'");
  });

  it('fail/--output yaml is a usage error (exit 2)', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', 'chain.pem', '--output', 'yaml']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('want one of text, json');
    expect(r.out).toBe('');
  });

  it('ok/--help documents the bundle check and the exit codes', async () => {
    const r = await castellan(t.dir, ['cert', 'inspect', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('--bundle <file>');
    expect(r.out).toContain('--output <format>');
    expect(r.out).toMatch(/Exit codes: 0 .*\n.*; 1 a certificate is not a valid X509-SVID or a chain failed to verify/);
    expect(r.out).toContain('2 wrong usage');
  });
});

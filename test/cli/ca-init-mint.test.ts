import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { testCsr } from '../helpers/csr.js';
import { openssl, tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);

describe('castellan ca init', () => {
  it('ok/creates root, intermediate and keys with 0600 keys and a 0700 directory', async () => {
    const r = await cli(['ca', 'init', '--dir', 'ca', '--trust-domain', 'example.org'], { cwd: t.dir });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('trust domain  example.org');
    expect(r.out).toContain('CN=Castellan Root CA 1');
    const a = path.join(t.dir, 'ca', 'authorities', '1');
    expect(mode(path.join(t.dir, 'ca'))).toBe('700');
    expect(mode(path.join(a, 'root-key.pem'))).toBe('600');
    expect(mode(path.join(a, 'ca-key.pem'))).toBe('600');
    const v = openssl(['verify', '-x509_strict', '-CAfile', path.join(a, 'root-cert.pem'), path.join(a, 'ca-cert.pem')]);
    expect(v.stdout.trim()).toMatch(/: OK$/);
    const text = openssl(['x509', '-noout', '-text', '-in', path.join(a, 'ca-cert.pem')]).stdout;
    expect(text).toContain('CA:TRUE, pathlen:0');
    expect(text).toContain('URI:spiffe://example.org');
  });

  for (const keyType of ['ec-p384', 'rsa-3072']) {
    it(`ok/--key-type ${keyType}`, async () => {
      const r = await cli(['ca', 'init', '--dir', 'ca', '--key-type', keyType, '--root-ttl', '2y', '--intermediate-ttl', '30d'], { cwd: t.dir });
      expect(r.code).toBe(0);
      expect(r.out).toContain(`key           ${keyType}`);
      const text = openssl(['x509', '-noout', '-text', '-in', path.join(t.dir, 'ca/authorities/1/ca-cert.pem')]).stdout;
      expect(text).toContain(keyType === 'ec-p384' ? 'NIST CURVE: P-384' : 'Public-Key: (3072 bit)');
    });
  }

  it('fail/refuses to overwrite an existing CA (exit 1)', async () => {
    expect((await cli(['ca', 'init', '--dir', 'ca'], { cwd: t.dir })).code).toBe(0);
    const r = await cli(['ca', 'init', '--dir', 'ca'], { cwd: t.dir });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^castellan: ca: .* already holds a CA/);
  });

  it("fail/a directory that cannot be made says so and exits 1 (under /proc, Node's recursive mkdir used to spin forever)", async () => {
    const r = await cli(['ca', 'init', '--dir', '/proc/castellan-test-ca'], { cwd: t.dir });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^castellan: ca: cannot create \/proc\/castellan-test-ca: ENOENT/);
  }, 20_000);

  const usage: [string, string[], RegExp][] = [
    ['fail/bad duration', ['--root-ttl', '25x'], /"25x" is not a duration/],
    ['fail/a zero root lifetime (it used to mean the default)', ['--root-ttl', '0s'], /want a duration longer than 0/],
    ['fail/a zero intermediate lifetime', ['--intermediate-ttl', '0s'], /want a duration longer than 0/],
    ['fail/bad key type', ['--key-type', 'dsa'], /unknown key type "dsa"/],
    ['fail/upper-case trust domain', ['--trust-domain', 'Example.org'], /trust domain/i],
    ['fail/missing --dir', [], /required option '--dir <dir>'/],
    ['fail/unknown flag', ['--dir', 'x', '--frobnicate'], /unknown option '--frobnicate'/],
  ];
  for (const [name, args, message] of usage) {
    it(`${name} is a usage error (exit 2, one line on stderr)`, async () => {
      const r = await cli(['ca', 'init', ...(name.includes('--dir') ? [] : ['--dir', 'ca']), ...args], { cwd: t.dir });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
    });
  }
});

describe('castellan ca mint', () => {
  beforeEach(async () => {
    expect((await cli(['ca', 'init', '--dir', 'ca'], { cwd: t.dir })).code).toBe(0);
  });

  it('ok/generates a key and writes cert, chain, bundle and a 0600 key that openssl accepts', async () => {
    const r = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', 'spiffe://cluster.local/ns/default/sa/web', '--ttl', '1h', '--out', 'web'], { cwd: t.dir });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('issued spiffe://cluster.local/ns/default/sa/web');
    const out = path.join(t.dir, 'web');
    expect(mode(path.join(out, 'key.pem'))).toBe('600');
    const v = openssl(['verify', '-x509_strict', '-CAfile', path.join(out, 'bundle.pem'), '-untrusted', path.join(out, 'chain.pem'), path.join(out, 'cert.pem')]);
    expect(v.stdout.trim()).toMatch(/: OK$/);
    // the key matches the certificate
    const certPub = openssl(['x509', '-noout', '-pubkey', '-in', path.join(out, 'cert.pem')]).stdout;
    const keyPub = openssl(['pkey', '-pubout', '-in', path.join(out, 'key.pem')]).stdout;
    expect(certPub).toBe(keyPub);
  });

  it('ok/signs a given CSR and writes no key', async () => {
    const { pem } = await testCsr({ key: 'rsa-2048' });
    writeFileSync(path.join(t.dir, 'req.pem'), pem);
    const r = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--csr', 'req.pem', '--out', 'o'], { cwd: t.dir });
    expect(r.code).toBe(0);
    expect(r.out).toContain('RSA-2048 (from the CSR)');
    expect(() => statSync(path.join(t.dir, 'o', 'key.pem'))).toThrow();
  });

  it('fail/refuses to overwrite output without --force, then overwrites with it', async () => {
    const args = ['ca', 'mint', '--dir', 'ca', '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--out', 'o'];
    expect((await cli(args, { cwd: t.dir })).code).toBe(0);
    const first = readFileSync(path.join(t.dir, 'o', 'cert.pem'), 'utf8');
    const again = await cli(args, { cwd: t.dir });
    expect(again.code).toBe(2);
    expect(again.err).toContain('pass --force');
    expect((await cli([...args, '--force'], { cwd: t.dir })).code).toBe(0);
    expect(readFileSync(path.join(t.dir, 'o', 'cert.pem'), 'utf8')).not.toBe(first);
  });

  const failures: [string, string[], number, RegExp][] = [
    ['fail/ttl above max', ['--ttl', '30d'], 1, /exceeds the maximum/],
    ['fail/invalid SPIFFE ID', ['--spiffe-id', 'spiffe://cluster.local/ns/../sa/x'], 2, /spiffeid:/],
    ['fail/other trust domain', ['--spiffe-id', 'spiffe://other.org/ns/a/sa/b'], 1, /not in trust domain cluster.local/],
    ['fail/CSR file missing', ['--csr', 'nope.pem'], 1, /ENOENT/],
    ['fail/not a CA dir', ['--dir', 'nowhere'], 1, /is not a CA directory/],
  ];
  for (const [name, extra, code, message] of failures) {
    it(`${name} (exit ${code})`, async () => {
      const base: Record<string, string> = { '--dir': 'ca', '--spiffe-id': 'spiffe://cluster.local/ns/a/sa/b', '--out': 'o' };
      for (let i = 0; i < extra.length; i += 2) base[extra[i]!] = extra[i + 1]!;
      const r = await cli(['ca', 'mint', ...Object.entries(base).flat()], { cwd: t.dir });
      expect(r.code).toBe(code);
      expect(r.err).toMatch(message);
    });
  }

  it('fail/a CSR for another identity is refused with the reason', async () => {
    const { pem } = await testCsr({ uris: ['spiffe://cluster.local/ns/a/sa/other'] });
    writeFileSync(path.join(t.dir, 'req.pem'), pem);
    const r = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--csr', 'req.pem', '--out', 'o'], { cwd: t.dir });
    expect(r.code).toBe(1);
    expect(r.err).toContain('CSR asks for URI SAN "spiffe://cluster.local/ns/a/sa/other"');
  });
});

describe('castellan (the installed bin)', () => {
  const bin = path.resolve('bin/castellan.js');
  it('ok/--help lists the commands and exits 0', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const c of ['ca', 'cert', 'dev']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
  });
  it('ok/ca mint --help describes the output files', () => {
    const r = spawnSync(process.execPath, [bin, 'ca', 'mint', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('chain.pem');
  });
  it('fail/an unknown command exits 2 with one line', () => {
    const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^castellan: unknown command 'frobnicate'/);
  });
  it('ok/the built castellan dev (what npm start runs) serves identities over SDS and completes mTLS handshakes', () => {
    const r = spawnSync(process.execPath, [bin, 'dev', '--dir', path.join(t.dir, 'devca'), '--duration', '3s'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /mTLS #1 TLSv1\.3 {2}client saw spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server [0-9a-f]{12}… {2}server saw spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client/,
    );
    expect(r.stdout).toMatch(/stopped: [1-9]\d* handshakes, 0 failed/);
  }, 70_000);
});

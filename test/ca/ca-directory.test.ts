import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTHORITY_FILES, importCacerts, initCa, Issuer, loadCa } from '../../ca/index.js';
import { SpiffeId, TrustDomain } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { openssl, opensslVerify, tempDir } from '../helpers/test-ca.js';
import { failureOf } from '../helpers/error-code.js';

const TD = TrustDomain.of('cluster.local');
const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const failure = async (p: Promise<unknown>) => (await failureOf(p)) ?? { code: 'resolved', message: '' };

/** Lays out one of our CA directories as Istio's cacerts. */
function exportAsCacerts(caDir: string, to: string): void {
  mkdirSync(to, { recursive: true });
  const a = path.join(caDir, 'authorities', '1');
  for (const f of [AUTHORITY_FILES.caCert, AUTHORITY_FILES.caKey, AUTHORITY_FILES.certChain, AUTHORITY_FILES.rootCert]) copyFileSync(path.join(a, f), path.join(to, f));
}

/** A three-level hierarchy made by openssl, as operators make Istio cacerts: root -> int1 -> ca-cert. */
function opensslHierarchy(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const ext = path.join(dir, 'ext.cnf');
  writeFileSync(
    ext,
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[root]',
      'basicConstraints = critical, CA:true',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '[int1]',
      'basicConstraints = critical, CA:true, pathlen:1',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '[int2]',
      'basicConstraints = critical, CA:true, pathlen:0',
      'keyUsage = critical, digitalSignature, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      'subjectAltName = DNS:istiod.istio-system.svc',
      '',
    ].join('\n'),
  );
  const run = (args: string[]) => {
    const r = openssl(args);
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const p = (f: string) => path.join(dir, f);
  for (const k of ['root', 'int1', 'int2']) run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(`${k}.key`)]);
  run(['req', '-x509', '-new', '-key', p('root.key'), '-subj', '/O=Example/CN=Example Root', '-days', '3650', '-config', ext, '-extensions', 'root', '-out', p('root.pem')]);
  run(['req', '-new', '-key', p('int1.key'), '-subj', '/O=Example/CN=Example Int 1', '-config', ext, '-out', p('int1.csr')]);
  run([
    'x509',
    '-req',
    '-in',
    p('int1.csr'),
    '-CA',
    p('root.pem'),
    '-CAkey',
    p('root.key'),
    '-CAcreateserial',
    '-days',
    '1000',
    '-extfile',
    ext,
    '-extensions',
    'int1',
    '-out',
    p('int1.pem'),
  ]);
  run(['req', '-new', '-key', p('int2.key'), '-subj', '/O=Example/CN=Example Int 2', '-config', ext, '-out', p('int2.csr')]);
  run([
    'x509',
    '-req',
    '-in',
    p('int2.csr'),
    '-CA',
    p('int1.pem'),
    '-CAkey',
    p('int1.key'),
    '-CAcreateserial',
    '-days',
    '500',
    '-extfile',
    ext,
    '-extensions',
    'int2',
    '-out',
    p('int2.pem'),
  ]);
  const out = path.join(dir, 'cacerts');
  mkdirSync(out);
  copyFileSync(p('int2.pem'), path.join(out, 'ca-cert.pem'));
  copyFileSync(p('int2.key'), path.join(out, 'ca-key.pem'));
  copyFileSync(p('root.pem'), path.join(out, 'root-cert.pem'));
  writeFileSync(path.join(out, 'cert-chain.pem'), readFileSync(p('int2.pem'), 'utf8') + readFileSync(p('int1.pem'), 'utf8') + readFileSync(p('root.pem'), 'utf8'));
}

describe('ca directory', () => {
  it('ok/init then load gives the same authority, and the bundle holds the root', async () => {
    const created = await initCa({ dir: path.join(t.dir, 'ca'), trustDomain: TD });
    const loaded = await loadCa(path.join(t.dir, 'ca'));
    expect(loaded.active.issuer.der.equals(created.active.issuer.der)).toBe(true);
    expect(loaded.active.root.der.equals(created.active.root.der)).toBe(true);
    expect(loaded.bundle.map((c) => c.serialHex)).toEqual([created.active.root.serialHex]);
    expect(readFileSync(path.join(t.dir, 'ca', 'bundle.pem'), 'utf8')).toBe(created.active.root.pem);
  });

  it('fail/load refuses a CA key that others can read', async () => {
    await initCa({ dir: path.join(t.dir, 'ca'), trustDomain: TD });
    const { chmodSync } = await import('node:fs');
    chmodSync(path.join(t.dir, 'ca', 'authorities', '1', 'ca-key.pem'), 0o644);
    const f = await failure(loadCa(path.join(t.dir, 'ca')));
    expect(f.code).toBe('ERR_KEY_FILE');
    expect(f.message).toContain('chmod 600');
  });

  it('fail/load of a directory that is not a CA says how to create one', async () => {
    const f = await failure(loadCa(path.join(t.dir, 'empty')));
    expect(f.code).toBe('ERR_CA_DIR');
    expect(f.message).toContain('castellan ca init');
  });
});

describe('plugged-in cacerts', () => {
  it('ok/our own hierarchy laid out as cacerts is accepted and issues verifiable chains', async () => {
    await initCa({ dir: path.join(t.dir, 'src'), trustDomain: TD });
    exportAsCacerts(path.join(t.dir, 'src'), path.join(t.dir, 'cacerts'));
    const ca = await importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'cacerts') });
    expect(ca.trustDomain.name).toBe('cluster.local'); // read from ca-cert.pem's SAN
    const cert = new Issuer({ authority: ca.active }).issue(ID, (await testCsr()).pem);
    expect(opensslVerify(t.dir, cert.leafPem, cert.chainPem).stdout.trim()).toMatch(/: OK$/);
  });

  it('ok/a three-level hierarchy made by openssl: the chain carries every intermediate', async () => {
    opensslHierarchy(path.join(t.dir, 'ossl'));
    const ca = await importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'ossl', 'cacerts'), trustDomain: TD });
    const cert = new Issuer({ authority: ca.active }).issue(ID, (await testCsr()).pem);
    expect(cert.chainPem).toHaveLength(3); // int2, int1, root
    const v = opensslVerify(t.dir, cert.leafPem, cert.chainPem);
    expect(v.stdout.trim()).toMatch(/: OK$/);
    const reloaded = await loadCa(path.join(t.dir, 'ca'));
    expect(reloaded.active.parents).toHaveLength(2);
  });

  it('fail/no SPIFFE SAN and no --trust-domain', async () => {
    opensslHierarchy(path.join(t.dir, 'ossl'));
    const f = await failure(importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'ossl', 'cacerts') }));
    expect(f.code).toBe('ERR_CACERTS');
    expect(f.message).toContain('pass --trust-domain');
  });

  it('fail/a key that does not match ca-cert.pem is refused with a clear message', async () => {
    await initCa({ dir: path.join(t.dir, 'a'), trustDomain: TD });
    await initCa({ dir: path.join(t.dir, 'b'), trustDomain: TD });
    exportAsCacerts(path.join(t.dir, 'a'), path.join(t.dir, 'cacerts'));
    copyFileSync(path.join(t.dir, 'b', 'authorities', '1', 'ca-key.pem'), path.join(t.dir, 'cacerts', 'ca-key.pem'));
    const f = await failure(importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'cacerts') }));
    expect(f.code).toBe('ERR_CACERTS');
    expect(f.message).toBe('cacerts: ca-key.pem does not match ca-cert.pem (different public keys)');
  });

  it('fail/a root that did not sign the chain is refused', async () => {
    await initCa({ dir: path.join(t.dir, 'a'), trustDomain: TD });
    await initCa({ dir: path.join(t.dir, 'b'), trustDomain: TD });
    exportAsCacerts(path.join(t.dir, 'a'), path.join(t.dir, 'cacerts'));
    copyFileSync(path.join(t.dir, 'b', 'authorities', '1', 'root-cert.pem'), path.join(t.dir, 'cacerts', 'root-cert.pem'));
    // cert-chain.pem still ends with a's root, which is no longer root-cert.pem: the chain must not verify.
    const f = await failure(importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'cacerts') }));
    expect(f.code).toBe('ERR_CACERTS');
    expect(f.message).toMatch(/not signed by|not self-signed/);
  });

  it('fail/a leaf certificate as ca-cert.pem cannot sign SVIDs', async () => {
    await initCa({ dir: path.join(t.dir, 'a'), trustDomain: TD });
    exportAsCacerts(path.join(t.dir, 'a'), path.join(t.dir, 'cacerts'));
    const ca = await loadCa(path.join(t.dir, 'a'));
    const { generateKey, writePrivateKeyFile } = await import('../../ca/index.js');
    const { createSvidRequest } = await import('../../workload-identity/index.js');
    const key = generateKey('ec-p256').privateKey;
    const leaf = new Issuer({ authority: ca.active }).issue(ID, await createSvidRequest(key, ID));
    writeFileSync(path.join(t.dir, 'cacerts', 'ca-cert.pem'), leaf.leafPem);
    await writePrivateKeyFile(path.join(t.dir, 'cacerts', 'ca-key.pem'), key);
    const f = await failure(importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'cacerts') }));
    expect(f.code).toBe('ERR_CACERTS');
    expect(f.message).toContain('cannot sign X509-SVIDs');
  });

  it('fail/a missing file is named', async () => {
    mkdirSync(path.join(t.dir, 'cacerts'));
    const f = await failure(importCacerts({ dir: path.join(t.dir, 'ca'), from: path.join(t.dir, 'cacerts') }));
    expect(f.code).toBe('ERR_CACERTS');
    expect(f.message).toMatch(/cannot read .*ca-cert.pem: ENOENT/);
  });
});

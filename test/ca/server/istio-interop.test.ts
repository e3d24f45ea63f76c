// A client nobody here wrote: istio.io/api's generated IstioCertificateService client with grpc-go
// (test/interop/istio-client). Runs when `go` is installed; skipped with the reason otherwise.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadDevTokenIssuer } from '../../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { opensslVerify, tempDir } from '../../helpers/test-ca.js';

const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' });
const haveGo = goVersion.status === 0;
if (!haveGo) console.log('skipping the istio.io/api Go client interop test: `go` is not installed');

describe.skipIf(!haveGo)('Istio CA API interop: istio.io/api Go client with grpc-go', () => {
  let t: ReturnType<typeof tempDir>;
  let srv: Awaited<ReturnType<typeof testCaServer>>;
  let bin: string;
  let tokenFile: string;
  let bundle: string;

  beforeAll(async () => {
    t = tempDir();
    bin = path.join(t.dir, 'istio-client');
    const build = spawnSync('go', ['build', '-o', bin, '.'], { cwd: path.resolve('test/interop/istio-client'), encoding: 'utf8', timeout: 240_000 });
    if (build.status !== 0) throw new Error(`go build failed: ${build.stderr}`);
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    bundle = path.join(dir, 'bundle.pem');
    const dev = await loadDevTokenIssuer(dir);
    tokenFile = path.join(t.dir, 'token');
    writeFileSync(
      tokenFile,
      await mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['castellan'], namespace: 'default', serviceAccount: 'web', ttlSeconds: 600 }),
    );
    srv = await testCaServer(dir, {}, true);
  }, 300_000);
  afterAll(async () => {
    await srv?.server.shutdown(1000);
    t?.cleanup();
  });

  // Asynchronous: the CA server runs in this process, so a blocking spawn would starve it.
  const call = async (args: string[]) => {
    const r = await promisify(execFile)(bin, ['-addr', srv.address, '-root', bundle, ...args], { encoding: 'utf8', timeout: 30_000 });
    return JSON.parse(r.stdout) as { code: string; message?: string; certChain?: string[] };
  };

  it('ok/CreateCertificate returns leaf first, root last, and openssl -x509_strict accepts the chain', async () => {
    const r = await call(['-token-file', tokenFile, '-spiffe-id', 'spiffe://cluster.local/ns/default/sa/web', '-ttl', '3600']);
    expect(r.message).toBeUndefined();
    expect(r.code).toBe('OK');
    const chain = r.certChain!;
    expect(chain).toHaveLength(3);
    expect(chain[2]).toBe(readFileSync(bundle, 'utf8'));
    const v = opensslVerify(t.dir, chain[0]!, chain.slice(1));
    expect(v.stdout.trim()).toMatch(/: OK$/);
  });

  it('fail/grpc-go sees Unauthenticated without a token and PermissionDenied for another identity', async () => {
    expect((await call(['-spiffe-id', 'spiffe://cluster.local/ns/default/sa/web'])).code).toBe('Unauthenticated');
    const denied = await call(['-token-file', tokenFile, '-spiffe-id', 'spiffe://cluster.local/ns/default/sa/db']);
    expect(denied.code).toBe('PermissionDenied');
    expect(denied.message).toContain('but the caller is spiffe://cluster.local/ns/default/sa/web');
  });
});

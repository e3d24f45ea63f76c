// Istio drop-in mode as pilot-agent uses it (docs/istio.md): audience istio-ca, the dev issuer with a
// config file, and the CA dialled by IP address (an iPAddress SAN) or by istiod's service name (the
// TLS server name pilot-agent derives from CA_ADDR). grpc-js here; istio.io/api's Go client with
// grpc-go too when `go` is installed.
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caProtos, initCa, loadCa, loadDevTokenIssuer, type CaServerConfig } from '../../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../../workload-identity/index.js';
import { unary } from '../../helpers/ca-client.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { openssl, opensslVerify, tempDir } from '../../helpers/test-ca.js';

const OK = 0;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;
const WEB = 'spiffe://cluster.local/ns/default/sa/web';

/** What pilot-agent configures: TLS to CA_ADDR, server name = its host unless overridden. */
function istioClient(address: string, rootsPem: string, serverName?: string) {
  const options = serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {};
  return new (caProtos().istio)(address, credentials.createSsl(Buffer.from(rootsPem)), options);
}

const ISTIO_CONFIG: CaServerConfig = {
  istioCompat: true,
  authentication: { devIssuer: true },
  servingDnsNames: ['istiod.istio-system.svc', 'localhost'],
  servingIpAddresses: ['127.0.0.1', '::1'],
};

describe('Istio mode: audience istio-ca, dev issuer with a config file, CA dialled by IP or istiod name', () => {
  let t: ReturnType<typeof tempDir>;
  let caDir: string;
  let bundlePem: string;
  let istioToken: string;
  let srv: Awaited<ReturnType<typeof testCaServer>>;
  let plain: Awaited<ReturnType<typeof testCaServer>>;

  beforeAll(async () => {
    t = tempDir();
    caDir = path.join(t.dir, 'ca');
    await initCa({ dir: caDir, trustDomain: TrustDomain.of('cluster.local') });
    bundlePem = (await loadCa(caDir)).bundle.map((c) => c.pem).join('');
    const dev = await loadDevTokenIssuer(caDir);
    // pilot-agent's token: audience istio-ca (Istio's default), not castellan.
    istioToken = await mintServiceAccountToken(dev.privateKey, dev.kid, {
      issuer: dev.issuer,
      audiences: ['istio-ca'],
      namespace: 'default',
      serviceAccount: 'web',
      ttlSeconds: 600,
    });
    srv = await testCaServer(caDir, ISTIO_CONFIG);
    // The same directory without Istio mode: the default serving names and audience.
    plain = await testCaServer(caDir, { authentication: { devIssuer: true } });
  });
  afterAll(async () => {
    await srv?.server.shutdown(1000);
    await plain?.server.shutdown(1000);
    t?.cleanup();
  });

  it('ok/the serving certificate carries IP:127.0.0.1 and IP:::1 as iPAddress SANs (openssl and Node agree)', () => {
    const leaf = srv.server.servingChain.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!;
    const x = new X509Certificate(leaf);
    expect(x.subjectAltName).toBe('URI:spiffe://cluster.local/castellan/ca, DNS:istiod.istio-system.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkHost('istiod.istio-system.svc')).toBe('istiod.istio-system.svc');
    writeFileSync(path.join(t.dir, 'serving.pem'), leaf);
    const text = openssl(['x509', '-in', path.join(t.dir, 'serving.pem'), '-noout', '-ext', 'subjectAltName']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    expect(text.stdout).not.toMatch(/DNS:127/);
    const chain = srv.server.servingChain.split(/(?<=-----END CERTIFICATE-----\n)/).filter((c) => c !== '');
    // -x509_strict also checks the iPAddress encoding (4 or 16 octets).
    expect(opensslVerify(t.dir, chain[0]!, [...chain.slice(1), bundlePem]).stdout.trim()).toMatch(/: OK$/);
  });

  for (const dial of [
    { name: 'CA_ADDR=127.0.0.1 (IP SAN)', host: '127.0.0.1' },
    { name: 'server name istiod.istio-system.svc', host: '127.0.0.1', serverName: 'istiod.istio-system.svc' },
  ]) {
    it(`ok/CreateCertificate with an istio-ca token, dialling ${dial.name}`, async () => {
      const port = srv.address.split(':').pop();
      const client = istioClient(`${dial.host}:${port}`, bundlePem, dial.serverName);
      try {
        const csr = await testCsr({ uris: [WEB] });
        const r = await unary<{ certChain: string[] }>(client, 'CreateCertificate', { csr: csr.pem, validityDuration: 3600 }, istioToken);
        expect(r.details).toBeUndefined();
        expect(r.code).toBe(OK);
        const leaf = new X509Certificate(r.response!.certChain[0]!);
        expect(leaf.subjectAltName).toBe(`URI:${WEB}`);
        expect(leaf.checkIssued(new X509Certificate(r.response!.certChain[1]!))).toBe(true);
      } finally {
        client.close();
      }
    });
  }

  it('fail/without istioCompat the istio-ca audience is refused (UNAUTHENTICATED)', async () => {
    const client = istioClient(plain.address, bundlePem, 'localhost');
    try {
      const csr = await testCsr({ uris: [WEB] });
      const r = await unary(client, 'CreateCertificate', { csr: csr.pem, validityDuration: 3600 }, istioToken);
      expect(r.code).toBe(UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });

  it('fail/without servingIpAddresses a client dialling 127.0.0.1 rejects the CA certificate (UNAVAILABLE)', async () => {
    const client = istioClient(plain.address, bundlePem);
    try {
      const csr = await testCsr({ uris: [WEB] });
      const r = await unary(client, 'CreateCertificate', { csr: csr.pem, validityDuration: 3600 }, istioToken, 5_000);
      expect(r.code).toBe(UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});

const haveGo = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;
if (!haveGo) console.log('skipping the grpc-go half of the Istio mode test: `go` is not installed');

describe.skipIf(!haveGo)('Istio mode with istio.io/api Go client (grpc-go verifies IP SANs and server names itself)', () => {
  let t: ReturnType<typeof tempDir>;
  let srv: Awaited<ReturnType<typeof testCaServer>>;
  let bin: string;
  let bundle: string;
  let tokenFile: string;

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
      await mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['istio-ca'], namespace: 'default', serviceAccount: 'web', ttlSeconds: 600 }),
    );
    srv = await testCaServer(dir, ISTIO_CONFIG);
  }, 300_000);
  afterAll(async () => {
    await srv?.server.shutdown(1000);
    t?.cleanup();
  });

  const call = async (serverName: string) => {
    const r = await promisify(execFile)(bin, ['-addr', srv.address, '-root', bundle, '-server-name', serverName, '-token-file', tokenFile, '-spiffe-id', WEB], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return JSON.parse(r.stdout) as { code: string; message?: string; certChain?: string[] };
  };

  it('ok/grpc-go dialling 127.0.0.1 with no server name (it verifies the IP SAN) gets a certificate', async () => {
    const r = await call('');
    expect(r.message).toBeUndefined();
    expect(r.code).toBe('OK');
    expect(new X509Certificate(r.certChain![0]!).subjectAltName).toBe(`URI:${WEB}`);
  });

  it('ok/grpc-go with server name istiod.istio-system.svc gets a certificate', async () => {
    expect((await call('istiod.istio-system.svc')).code).toBe('OK');
  });

  it('fail/grpc-go with a server name not in the certificate is refused by its own TLS check', async () => {
    const r = await call('istiod.other.svc');
    expect(r.code).toBe('Unavailable');
    expect(r.message).toMatch(/certificate is valid for .*not istiod\.other\.svc/);
  });
});

// A CA whose state is in Kubernetes keeps signing while the API server is unreachable, and says so in
// /readyz and its metrics (docs/kubernetes.md, "When things go wrong"); against a real kube-apiserver
// reached through a TCP relay the test can cut.
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCaServer, type CaServer } from '../../../ca/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { tempDir } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';
import { STORE_RULES } from '../../k8s/real/castellan-rbac.js';
import { sharedApiServer } from '../../k8s/real/index.js';

const api = sharedApiServer();

/** A TCP relay to `target` that can be cut and restored on the same port. */
async function relay(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  };
  const cut = async () => {
    // close() waits for open connections: end them first (the CA's watch keeps one open).
    const closed = new Promise((r) => server?.close(r));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}

describe.skipIf(api === undefined)('the Kubernetes store when the API server goes away', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  let server: CaServer;
  let proxy: Awaited<ReturnType<typeof relay>>;
  let ns: string;
  const log = memoryLog();

  beforeAll(async () => {
    t = tempDir();
    ns = await k.createNamespace('castellan-outage');
    await k.createServiceAccount(ns, 'castellan-ca');
    await k.createServiceAccount(ns, 'web');
    await k.grant('castellan-ca-store', { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' }, STORE_RULES, ns);
    proxy = await relay(new URL(k.url));
    const caToken = await k.requestToken(ns, 'castellan-ca');
    const kubeconfig = k.writeKubeconfig(path.join(t.dir, 'kubeconfig'), { token: caToken }, { server: `https://127.0.0.1:${proxy.port}` });
    writeFileSync(path.join(t.dir, 'token'), caToken, { mode: 0o600 });
    writeFileSync(path.join(t.dir, 'cluster-ca.crt'), k.caPem);
    ({ server } = await startCaServer({
      config: {
        trustDomain: 'cluster.local',
        listen: '127.0.0.1:0',
        http: '127.0.0.1:0',
        servingDnsNames: ['localhost'],
        store: { kubernetes: { namespace: ns, kubeconfig } },
        ledger: { path: path.join(t.dir, 'ledger.db') },
        // Tokens are checked locally (JWKS reached directly): only the store goes through the relay.
        authentication: {
          jwks: {
            issuer: k.saIssuer,
            discoveryUrl: `${k.url}/.well-known/openid-configuration`,
            caFile: path.join(t.dir, 'cluster-ca.crt'),
            bearerTokenFile: path.join(t.dir, 'token'),
          },
        },
        rotation: { reloadInterval: 200 },
      },
      log: log.log,
    }));
  });
  afterAll(async () => {
    await server?.shutdown(1000);
    await proxy?.close();
    t?.cleanup();
  });

  const readyz = async () => (await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).text().then((body) => body);
  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  };
  const issue = async () => {
    const client = caClients(`127.0.0.1:${server.grpcPort}`, server.trustBundle.current().pem);
    try {
      return (await unary(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem, validityDuration: 600 }, await k.requestToken(ns, 'web', { audiences: ['castellan'] })))
        .code;
    } finally {
      client.close();
    }
  };

  it('ok/cut off from the API server, the CA keeps signing and /readyz and castellan_store_problem say why; back, the warning clears', async () => {
    expect(await issue()).toBe(0);
    expect(await readyz()).toBe('ready\n');
    expect(await metric('castellan_store_problem')).toBe(0);
    await until(async () => (await metric('castellan_leader')) === 1, 'the only replica leads', 20_000);

    await proxy.cut();
    await until(async () => (await readyz()).includes('warning: cannot read kubernetes secret'), '/readyz names the store problem', 30_000);
    expect(await readyz()).toMatch(/^ready\n/);
    expect(await metric('castellan_store_problem')).toBe(1);
    expect(await issue()).toBe(0);
    expect(log.lines.join('')).toContain('the CA keeps signing with what it has');

    await proxy.restore();
    await until(async () => (await readyz()) === 'ready\n', 'the warning clears', 30_000);
    expect(await metric('castellan_store_problem')).toBe(0);
    expect(await issue()).toBe(0);
  }, 120_000);
});

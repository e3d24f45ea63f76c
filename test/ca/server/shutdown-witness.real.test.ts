// A CA whose state is in Kubernetes stops cleanly (docs/kubernetes.md): the ledger's final checkpoint at
// shutdown still reaches the head witness ConfigMap, because the store is closed after the ledger, not
// before (found by running the chart's CA from the image: every SIGTERM logged "cannot write the head
// witness ... The user aborted a request").
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerStore, startCaServer } from '../../../ca/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { tempDir } from '../../helpers/test-ca.js';
import { STORE_RULES } from '../../k8s/real/castellan-rbac.js';
import { sharedApiServer } from '../../k8s/real/index.js';

const api = sharedApiServer();

describe.skipIf(api === undefined)('shutdown of a CA with the Kubernetes store', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  let ns: string;

  beforeAll(async () => {
    t = tempDir();
    ns = await k.createNamespace('castellan-shutdown');
    await k.createServiceAccount(ns, 'castellan-ca');
    await k.createServiceAccount(ns, 'web');
    await k.grant('castellan-ca-store', { kind: 'ServiceAccount', namespace: ns, name: 'castellan-ca' }, STORE_RULES, ns);
  });
  afterAll(async () => {
    await k.deleteNamespace(ns);
    t?.cleanup();
  });

  it('ok/the final checkpoint moves the head witness in the API server; nothing is logged as an error', async () => {
    const caToken = await k.requestToken(ns, 'castellan-ca');
    const kubeconfig = k.writeKubeconfig(path.join(t.dir, 'kubeconfig'), { token: caToken });
    writeFileSync(path.join(t.dir, 'token'), caToken, { mode: 0o600 });
    writeFileSync(path.join(t.dir, 'cluster-ca.crt'), k.caPem);
    const log = memoryLog();
    const ledgerPath = path.join(t.dir, 'ledger.db');
    const { server } = await startCaServer({
      config: {
        trustDomain: 'cluster.local',
        listen: '127.0.0.1:0',
        http: '127.0.0.1:0',
        servingDnsNames: ['localhost'],
        store: { kubernetes: { namespace: ns, kubeconfig } },
        ledger: { path: ledgerPath },
        authentication: {
          jwks: {
            issuer: k.saIssuer,
            discoveryUrl: `${k.url}/.well-known/openid-configuration`,
            caFile: path.join(t.dir, 'cluster-ca.crt'),
            bearerTokenFile: path.join(t.dir, 'token'),
          },
        },
      },
      log: log.log,
    });
    const client = caClients(`127.0.0.1:${server.grpcPort}`, server.trustBundle.current().pem);
    try {
      const r = await unary(
        client.istio,
        'CreateCertificate',
        { csr: (await testCsr()).pem, validityDuration: 600 },
        await k.requestToken(ns, 'web', { audiences: ['castellan'] }),
      );
      expect(r.code, r.details).toBe(0);
    } finally {
      client.close();
    }
    await server.shutdown(1000);

    const errors = log.lines.filter((l) => /"level":(50|60)/.test(l));
    expect(errors).toEqual([]);
    const store = await openLedgerStore({ sqliteFile: ledgerPath, readOnly: true });
    let last;
    try {
      last = (await store.scan(0, 100_000)).filter((r) => r.type === 'checkpoint').pop();
    } finally {
      await store.close();
    }
    expect(last).toBeDefined();
    const cm = await k.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/castellan-ca-ledger-head`);
    const head = JSON.parse(cm!.data['ledger-head.json']!) as { checkpoint: { seq: number; hash: string } };
    expect([head.checkpoint.seq, head.checkpoint.hash]).toEqual([last!.seq, last!.hash]);
  }, 60_000);
});

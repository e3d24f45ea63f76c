// Castellan as it runs in a cluster (docs/kubernetes.md), against a real kube-apiserver + etcd and a
// PostgreSQL ledger: two `castellan ca serve` processes share nothing but the API server and the
// database. Workloads authenticate with real bound service-account tokens (TokenReview).
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { certificatesFromPem, initCa, kubernetesStore, loadCa, openLedgerStore, readAgentReports, type CaServerConfig } from '../../ca/index.js';
import { SdsClient, startAgent, type Agent } from '../../sds/index.js';
import { loadKubeConfig, TrustDomain } from '../../workload-identity/index.js';
import { caClients, unary } from '../helpers/ca-client.js';
import { memoryLog } from '../helpers/ca-server.js';
import { cli } from '../helpers/cli.js';
import { testCsr } from '../helpers/csr.js';
import { freshPgDatabase, pgSkipReason, pgTestUrl } from '../helpers/postgres.js';
import { opensslVerify, tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';
import { sharedApiServer, type RealApiClient } from '../k8s/real/index.js';
import { FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { sdsTlsHandshake, sdsTlsServer } from '../helpers/tls-endpoints.js';
import { STORE_RULES } from '../k8s/real/castellan-rbac.js';

const api = sharedApiServer();
if (api && !pgTestUrl) console.warn(`cluster e2e: ${pgSkipReason}`);
const BIN = path.resolve('bin/castellan.js');

interface Replica {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  readonly address: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** A namespace with the CA's service account and least-privilege RBAC, tokens, a kubeconfig, a fresh ledger database. */
async function cluster(k: RealApiClient, dir: string) {
  const ns = await k.createNamespace('castellan-ha');
  for (const sa of ['castellan-ca', 'castellan-admin', 'server', 'client']) await k.createServiceAccount(ns, sa);
  const ca = { kind: 'ServiceAccount' as const, namespace: ns, name: 'castellan-ca' };
  await k.grant('castellan-ca-store', ca, STORE_RULES, ns);
  // TokenReview mode: tokenreviews create (system:auth-delegator).
  await k.bindClusterRole(`castellan-ca-${ns}`, 'system:auth-delegator', ca);
  const kubeconfig = k.writeKubeconfig(path.join(dir, `ca-${ns}.kubeconfig`), { token: await k.requestToken(ns, 'castellan-ca') });
  const db = await freshPgDatabase();
  const tokenFile = async (sa: string) => {
    const file = path.join(dir, `${ns}-${sa}.token`);
    writeFileSync(file, await k.requestToken(ns, sa, { audiences: ['castellan'] }), { mode: 0o600 });
    return file;
  };
  const config = (replicaId: string, extra: CaServerConfig = {}): CaServerConfig => ({
    trustDomain: 'cluster.local',
    replicaId,
    listen: '127.0.0.1:0',
    http: '127.0.0.1:0',
    servingDnsNames: ['localhost'],
    store: { kubernetes: { namespace: ns, kubeconfig, leaseDuration: 4_000 } },
    ledger: { url: db.url },
    authentication: { tokenReview: { kubeconfig } },
    admin: { identities: [`spiffe://cluster.local/ns/${ns}/sa/castellan-admin`] },
    ...extra,
    rotation: { reloadInterval: 200, agentWarmup: 1_000, ...extra.rotation },
  });
  return { ns, kubeconfig, db, tokenFile, config, cleanup: () => k.deleteObject('ClusterRoleBinding', `castellan-ca-${ns}`) };
}

/** `castellan ca serve --config FILE` as a process of its own; resolves once it serves. */
async function startReplica(dir: string, name: string, config: CaServerConfig, env: Record<string, string> = {}): Promise<Replica> {
  // Durations go to the file as the strings the config accepts.
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, toYaml(durationsAsText(config)));
  const proc = spawn(process.execPath, [BIN, 'ca', 'serve', '--config', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CASTELLAN_LOG_LEVEL: 'warn', ...env },
  });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const grpcPort = await new Promise<number>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving gRPC on port (\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((e) => reject(new Error(`${name} exited (${e.code ?? e.signal}) before serving: ${err}`)));
  });
  return { name, proc, grpcPort, address: `127.0.0.1:${grpcPort}`, exited, stderr: () => err };
}

function durationsAsText(c: CaServerConfig): unknown {
  const ms = (v: number | undefined) => (v === undefined ? undefined : `${v}ms`);
  return {
    ...c,
    ...(c.store?.kubernetes ? { store: { kubernetes: { ...c.store.kubernetes, leaseDuration: ms(c.store.kubernetes.leaseDuration) } } } : {}),
    ...(c.rotation
      ? {
          rotation: Object.fromEntries(Object.entries(c.rotation).map(([key, v]) => [key, key === 'intermediateRotateAt' ? v : ms(v as number)])),
        }
      : {}),
  };
}

async function stop(r: Replica | undefined): Promise<void> {
  if (!r || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  r.proc.kill('SIGTERM');
  await r.exited;
}

const certs = (pem: string) => certificatesFromPem(pem, { code: 'ERR_CERT_FILE', what: 'test' });
const rootsOf = (pem: string) => certs(pem).map((c) => new X509Certificate(c.der).fingerprint256);
const leafIssuedBy = (chainPem: string, issuerPem: string) => new X509Certificate(certs(chainPem)[0]!.der).checkIssued(new X509Certificate(issuerPem));

describe.skipIf(api === undefined || !pgTestUrl)('two CA replicas sharing only a real kube-apiserver and a PostgreSQL ledger', () => {
  const k = api!;
  let t: ReturnType<typeof tempDir>;
  const replicas: Replica[] = [];
  const agents: Agent[] = [];
  const clients: SdsClient[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(() => {
    t = tempDir();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const a of agents.splice(0)) await a.close();
    for (const r of replicas.splice(0)) await stop(r);
    for (const c of cleanups.splice(0)) await c().catch(() => {});
  });
  afterAll(() => t?.cleanup());

  it('ok/both replicas issue; root prepare -> activate -> retire through --server with zero failed handshakes between two SDS-fed workloads; audit verify passes', async () => {
    const c = await cluster(k, t.dir);
    cleanups.push(c.cleanup, c.db.drop);
    // Both start on an empty store: exactly one root is created, the other replica loads it.
    const [a, b] = await Promise.all([startReplica(t.dir, 'a', c.config('ca-a')), startReplica(t.dir, 'b', c.config('ca-b'))]);
    replicas.push(a, b);
    const admin = await loadKubeConfig(k.adminKubeconfigPath);
    const store = kubernetesStore({ kubeConfig: admin, namespace: c.ns });
    cleanups.push(() => store.close());
    const initial = await loadCa(store);
    expect(initial.authorities).toHaveLength(1);
    const bundlePem = initial.bundle.map((x) => x.pem).join('');
    const bundleFile = path.join(t.dir, `${c.ns}-bundle.pem`);
    writeFileSync(bundleFile, bundlePem);

    // Both replicas issue for a real bound token.
    const webToken = await k.requestToken(c.ns, 'server', { audiences: ['castellan'] });
    for (const r of [a, b]) {
      const client = caClients(r.address, bundlePem);
      try {
        // Short-lived: retire (below) waits until no leaf of the old root is valid.
        const res = await unary<{ certChain: string[] }>(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem, validityDuration: 5 }, webToken);
        expect(res.code, res.details).toBe(0);
        expect(res.response!.certChain[0]).toContain('BEGIN CERTIFICATE');
      } finally {
        client.close();
      }
    }

    // Two workloads, each with a sidecar agent on another replica.
    const sds: Record<'server' | 'client', SdsClient> = {} as never;
    const log = memoryLog();
    for (const [name, replica] of [
      ['server', a],
      ['client', b],
    ] as const) {
      const socketPath = path.join(t.dir, `${c.ns}-${name}.sock`);
      agents.push(
        await startAgent({
          caAddress: replica.address,
          caBundlePem: bundlePem,
          caServerName: 'localhost',
          mode: 'sidecar',
          tokenFile: await c.tokenFile(name),
          agentId: `agent-${name}`,
          ttlMs: 8_000,
          socketPath,
          log: log.log,
          caChannelOptions: FAST_CHANNEL,
        }),
      );
      sds[name] = new SdsClient({ socketPath, nodeId: `${name}-pod` });
      clients.push(sds[name]);
      await sds[name].ready();
    }
    const srv = await sdsTlsServer(sds.server);
    let handshakes = 0;
    const failures: string[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          await sdsTlsHandshake(sds.client, srv.port);
          handshakes++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const adminToken = await c.tokenFile('castellan-admin');
    const root = (step: string) => cli(['root', step, '--server', a.address, '--ca-bundle', bundleFile, '--token-file', adminToken, '--server-name', 'localhost']);
    try {
      await until(async () => (await readAgentReports(store.agentReports, new Date())).live.filter((x) => x.sequence >= 1).length === 2, 'both agents reported bundle 1', 40_000);
      const prep = await root('prepare');
      expect(prep.code, prep.err).toBe(0);
      const next = (await loadCa(store)).prepared!;
      const newRoot = new X509Certificate(next.root.der).fingerprint256;
      // Replica b learns the new root by its watch on the Secret and pushes it to its agent.
      await until(() => (['server', 'client'] as const).every((n) => rootsOf(sds[n].current()!.trustedCaPem).includes(newRoot)), 'both agents serve the new root', 40_000);
      await until(async () => (await readAgentReports(store.agentReports, new Date())).live.filter((x) => x.sequence >= 2).length === 2, 'both agents reported bundle 2', 40_000);
      const act = await root('activate');
      expect(act.code, act.err).toBe(0);
      await until(
        () => (['server', 'client'] as const).every((n) => leafIssuedBy(sds[n].current()!.certificateChainPem, next.issuer.pem)),
        'both leaves under the new intermediate',
        40_000,
      );
      let refusals = 0;
      await until(
        async () => {
          const r = await root('retire');
          if (r.code === 3) {
            refusals++;
            await new Promise((res) => setTimeout(res, 500));
            return false;
          }
          expect(r.code, r.err).toBe(0);
          return true;
        },
        'retire is accepted',
        60_000,
      );
      const oldRoot = new X509Certificate(initial.active.root.der).fingerprint256;
      await until(() => (['server', 'client'] as const).every((n) => !rootsOf(sds[n].current()!.trustedCaPem).includes(oldRoot)), 'the old root is gone from both agents', 40_000);
      const before = handshakes;
      await until(() => handshakes >= before + 20, 'more handshakes after retire', 40_000);
      console.log(`cluster e2e: ${handshakes} mTLS handshakes across replicas, ${failures.length} failed; retire refused ${refusals} time(s)`);
    } finally {
      running = false;
      await loop;
      await new Promise<void>((resolve) => srv.server.close(() => resolve()));
    }
    expect(failures).toEqual([]);
    expect(handshakes).toBeGreaterThan(50);
    const ca = await loadCa(store);
    for (const n of ['server', 'client'] as const) {
      const chain = certs(sds[n].current()!.certificateChainPem).map((x) => x.pem);
      expect(opensslVerify(t.dir, chain[0]!, [...chain.slice(1), ca.active.root.pem]).status).toBe(0);
    }
    for (const r of replicas.splice(0)) await stop(r);
    const verify = await cli(['audit', 'verify', '--config', path.join(t.dir, 'a.yaml')]);
    expect(verify.code, verify.err + verify.out).toBe(0);
    expect(verify.out).toContain('OK: the ledger is intact');
  }, 240_000);

  it('ok/SIGKILL of the leader in the middle of its automatic intermediate rotation: the other replica finishes it, once; audit verify passes', async () => {
    const c = await cluster(k, t.dir);
    cleanups.push(c.cleanup, c.db.drop);
    const admin = await loadKubeConfig(k.adminKubeconfigPath);
    const store = kubernetesStore({ kubeConfig: admin, namespace: c.ns });
    cleanups.push(() => store.close());
    // An intermediate of 2 days that reaches half of its life about 30 s from now (its notBefore is backdated 60 s).
    const DAY = 86_400_000;
    const before = await initCa({ store, trustDomain: TrustDomain.of('cluster.local'), intermediateTtlMs: 2 * DAY, now: new Date(Date.now() - DAY + 60_000) });
    // Replica a dies (SIGKILL) right after committing the new intermediate, before its ledger record.
    const a = await startReplica(t.dir, 'ka', c.config('ca-a'), { CASTELLAN_FAILPOINT: 'after-commit' });
    replicas.push(a);
    await until(
      async () => (await k.get<{ spec: { holderIdentity: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${c.ns}/leases/castellan-leader`))?.spec.holderIdentity === 'ca-a',
      'replica a leads',
      30_000,
    );
    const b = await startReplica(t.dir, 'kb', c.config('ca-b'));
    replicas.push(b);
    const token = await k.requestToken(c.ns, 'client', { audiences: ['castellan'] });
    const bundlePem = before.bundle.map((x) => x.pem).join('');
    const issue = async (r: Replica) => {
      const client = caClients(r.address, bundlePem);
      try {
        return await unary<{ certChain: string[] }>(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem, validityDuration: 600 }, token);
      } finally {
        client.close();
      }
    };
    expect((await issue(a)).code).toBe(0);
    expect((await issue(b)).code).toBe(0);
    const died = await a.exited;
    expect(died.signal).toBe('SIGKILL');
    // The commit landed, its record did not: it waits in the state for the next leader.
    const committed = await loadCa(store);
    expect(committed.authorities).toHaveLength(2);
    const events = async () => {
      const s = await openLedgerStore({ databaseUrl: c.db.url, readOnly: true });
      try {
        return (await s.scan(0, 100_000)).filter((r) => r.type === 'lifecycle').map((r) => r.event!);
      } finally {
        await s.close();
      }
    };
    // b takes the lease (4 s) and writes the pending record.
    await until(async () => (await loadCa(store)).pendingRecords.length === 0, 'the pending record is written by the new leader', 40_000);
    expect((await events()).filter((e) => e === 'intermediate-rotated')).toHaveLength(1);
    // b signs with the new intermediate, and rotates nothing more.
    const r = await issue(b);
    expect(r.code).toBe(0);
    expect(leafIssuedBy(r.response!.certChain[0]!, committed.active.issuer.pem)).toBe(true);
    await new Promise((res) => setTimeout(res, 1_000));
    expect((await loadCa(store)).authorities).toHaveLength(2);
    await stop(b);
    expect((await events()).filter((e) => e === 'intermediate-rotated')).toHaveLength(1);
    const verify = await cli(['audit', 'verify', '--config', path.join(t.dir, 'kb.yaml')]);
    expect(verify.code, verify.err + verify.out).toBe(0);
  }, 180_000);
});

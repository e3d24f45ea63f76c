// The chart's CA as it runs in a cluster, from the container image, against a real kube-apiserver
// (docs/install.md, "What is verified"): `helm install` / `upgrade` put the objects in the API server, the
// test creates the pod from the Deployment's template (no controller-manager here) and runs its
// container with podman exactly as the pod spec says (test/helpers/pod-runner.ts): in-cluster API access
// through a service-account token bound to that pod, the rendered config from the ConfigMap, the
// restricted security context. Then the CA must create its state Secret, take the Lease, publish the
// bundle ConfigMaps, issue to workloads with real tokens (TokenReview, JWKS, Istio's audience), pass
// `helm test`, run two replicas on a PostgreSQL ledger, and never be refused by RBAC.
//
// Its own API server, not the shared one: with the chart's ClusterRole the CA publishes its bundle
// ConfigMap into every namespace, which would write into other test files' namespaces.
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { caProtos } from '../../ca/index.js';
import { unary } from '../helpers/ca-client.js';
import { cli } from '../helpers/cli.js';
import { testCsr } from '../helpers/csr.js';
import { freshPgDatabase, pgSkipReason, pgTestUrl } from '../helpers/postgres.js';
import { opensslVerify, tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';
import { findK8sBinaries, k8sRequired, startRealApiServer, type ObjectRef, type RealApiServer } from '../k8s/real/index.js';
import { CHART, CI_DIR, fetchHelm, runHelm } from '../helpers/helm.js';
import { KubeObjects, type KubeObject } from '../helpers/kube-objects.js';
import { buildImage, missingContainerTools, podman, RUNTIME } from '../helpers/image-build.js';
import { podmanRunArgs, type StoredPod } from '../helpers/pod-runner.js';

const REPOSITORY = 'localhost/castellan';
const TAG = 'chart-real';
const NS = 'castellan-system';
const OK = 0;
const UNAUTHENTICATED = 16;

const k8s = findK8sBinaries();
if ('skip' in k8s && k8sRequired()) throw new Error(`k8s-real: CASTELLAN_REQUIRE_K8S=1 but ${k8s.skip}`);
const helmBin = missingContainerTools.length === 0 && !('skip' in k8s) ? fetchHelm() : undefined;
const skip =
  missingContainerTools.length > 0
    ? `${missingContainerTools.join(', ')} not installed (Debian packages; .ci/run installs them)`
    : 'skip' in k8s
      ? k8s.skip
      : helmBin!.missing
        ? helmBin!.why
        : undefined;
if (skip) console.log(`skipping the chart's CA in the container image against a real API server: ${skip}`);
const haveGo = spawnSync('go', ['version']).status === 0;

/** A CA container started from a pod of the chart's Deployment. */
interface CaPod {
  readonly pod: StoredPod & KubeObject;
  readonly container: string;
  logs(): Promise<string>;
  /** SIGTERM (podman stop), then the exit code. */
  stop(): Promise<number>;
}

describe.skipIf(skip !== undefined)("the chart's CA from the container image against a real kube-apiserver", () => {
  let server: RealApiServer;
  let kube: KubeObjects;
  let helm: (args: string[]) => ReturnType<typeof runHelm>;
  let t: ReturnType<typeof tempDir>;
  const containers: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  let web: ObjectRef;
  let bundleBefore: string;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    buildImage(`${REPOSITORY}:${TAG}`);
    server = await startRealApiServer();
    kube = new KubeObjects(server);
    helm = (args) => runHelm(helmBin!.helm, args, { kubeconfig: server.adminKubeconfigPath });
    t = tempDir('castellan-chart-real-');
    ports = { grpc: await freePort(), http: await freePort() };
    // A workload namespace with a pod, as an application would have.
    await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    await server.createServiceAccount('shop', 'web');
    web = await server.createPod('shop', 'web-0', 'web');
  }, 3_000_000);

  // A failed test leaves no CA running into the next one (they share ports and the Lease).
  afterEach(async () => {
    for (const c of containers.splice(0)) await podman(['rm', '-f', '-t', '0', c]);
  });
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => {});
    await server?.stop();
    t?.cleanup();
  });

  /** The chart values every release here gets: the image just built, free ports (host network), a fast resync. */
  const common = (p = ports) => [
    '--set',
    `image.repository=${REPOSITORY}`,
    '--set',
    `image.tag=${TAG}`,
    '--set',
    `ca.grpcPort=${p.grpc}`,
    '--set',
    `ca.httpPort=${p.http}`,
    '--set',
    'distribution.resyncInterval=2s',
  ];

  /** Creates the pod the ReplicaSet controller would create from the release's Deployment, and runs its CA container. */
  async function startCaPod(
    ns: string,
    deployment: string,
    suffix: string,
    o: { hosts?: Record<string, string>; editConfig?: (c: Record<string, any>) => Record<string, any>; ledgerDir?: string } = {},
  ): Promise<CaPod> {
    // kube-controller-manager's root-ca-cert-publisher would have made this ConfigMap in every namespace.
    await server.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: ns }, data: { 'ca.crt': server.caPem } });
    const d = await server.call<{ spec: { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: unknown } } }>(
      'GET',
      `/apis/apps/v1/namespaces/${ns}/deployments/${deployment}`,
    );
    const created = await kube.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${deployment}-7c9d8f6b5-${suffix}`, namespace: ns, labels: d.spec.template.metadata.labels, annotations: d.spec.template.metadata.annotations ?? {} },
      spec: d.spec.template.spec,
    });
    expect(created.status, created.body?.message).toBe(201);
    const pod = created.body as StoredPod & KubeObject;
    const claims: Record<string, string> = {};
    if (o.ledgerDir) {
      mkdirSync(o.ledgerDir, { recursive: true });
      claims[`${deployment}-ledger`] = o.ledgerDir;
    }
    const args = await podmanRunArgs(pod, 'ca', {
      api: server,
      workDir: t.dir,
      claims,
      ...(o.hosts ? { hosts: o.hosts } : {}),
      ...(o.editConfig ? { editFile: (volume, file, content) => (volume === 'config' && file === 'config.yaml' ? toYaml(o.editConfig!(parseYaml(content))) : content) } : {}),
    });
    const container = `castellan-chart-real-${process.pid}-${pod.metadata.name}`;
    containers.push(container);
    const r = await podman(['run', '-d', '--name', container, ...RUNTIME, ...args]);
    expect(r.code, r.stderr).toBe(0);
    return {
      pod,
      container,
      logs: async () => {
        const l = await podman(['logs', container]);
        return l.stdout + l.stderr;
      },
      stop: async () => {
        const s = await podman(['stop', '-t', '30', container], 60_000);
        expect(s.code, s.stderr).toBe(0);
        return Number((await podman(['inspect', container, '--format', '{{.State.ExitCode}}'])).stdout.trim());
      },
    };
  }

  const ready = (httpPort: number, ca: CaPod) =>
    until(
      async () => {
        const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
        if (r?.status === 200) return true;
        const state = (await podman(['inspect', ca.container, '--format', '{{.State.Status}}'])).stdout.trim();
        if (state === 'exited') throw new Error(`the CA container exited before it was ready:\n${await ca.logs()}`);
        return false;
      },
      `${ca.pod.metadata.name} /readyz`,
      120_000,
    );

  const configMap = (ns: string, name: string) =>
    server.get<{ data: Record<string, string>; metadata: { labels?: Record<string, string> } }>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
  const stateSecret = async (ns: string) => {
    const s = await server.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/castellan-ca`);
    return s && Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  const lease = async (ns: string) =>
    (await server.get<{ spec: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/castellan-leader`))?.spec.holderIdentity;
  /** Requests of the CA's service account the API server refused (the audit log lags the answers slightly). */
  const refusals = (ns: string, sa: string) =>
    server
      .auditEvents((e) => e.user.username === `system:serviceaccount:${ns}:${sa}` && (e.responseStatus?.code === 403 || e.responseStatus?.code === 401))
      .map((e) => `${e.verb} ${e.requestURI} ${e.responseStatus?.code}`);
  /** What the log says at error level or above, and any RBAC refusal it mentions. */
  const problems = (logs: string) => logs.split('\n').filter((l) => /"level":(50|60)/.test(l) || /forbidden|\b403\b/i.test(l));

  /** `castellan cert request` (the host's CLI) with a token of shop/web; the CA's identity and roots as a pod would see them. */
  const certRequest = async (caAddr: string, serverName: string, bundlePem: string, token: string, expect: string) => {
    const dir = path.join(t.dir, `req-${Date.now()}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'bundle.pem'), bundlePem);
    writeFileSync(path.join(dir, 'token'), token);
    return cli([
      'cert',
      'request',
      '--ca-addr',
      caAddr,
      '--ca-server-name',
      serverName,
      '--ca-bundle',
      path.join(dir, 'bundle.pem'),
      '--token-file',
      path.join(dir, 'token'),
      '--expect-spiffe-id',
      expect,
      '--output',
      'json',
    ]);
  };

  it('ok/TokenReview + SQLite (ci/default-values.yaml): state Secret, Lease, castellan-root-cert in every namespace, a workload certificate, helm test passes, SIGTERM exits 0, RBAC never refuses', async () => {
    await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const install = await helm(['install', 'rel', CHART, '-n', NS, '--values', path.join(CI_DIR, 'default-values.yaml'), ...common()]);
    expect(install.code, install.stderr).toBe(0);
    const ca = await startCaPod(NS, 'rel-castellan', 'a1b2c', { ledgerDir: path.join(t.dir, 'ledger') });
    // What the pod runs is what the chart says: the image of the release, the config mounted from its ConfigMap.
    expect(ca.pod.spec.containers[0]!.image).toBe(`${REPOSITORY}:${TAG}`);
    expect(ca.pod.spec.volumes!.map((v) => v.name)).toEqual(['config', 'tmp', 'ledger', expect.stringMatching(/^kube-api-access-/)]);
    await ready(ports.http, ca);
    // The probes of the pod spec, as the kubelet would send them, find a healthy CA.
    const spec = ca.pod.spec.containers[0] as unknown as { ports: { name: string; containerPort: number }[] } & Record<string, { httpGet: { path: string; port: string } }>;
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const get = spec[probe]!.httpGet;
      const port = spec.ports.find((p) => p.name === get.port)!.containerPort;
      expect((await fetch(`http://127.0.0.1:${port}${get.path}`)).status, probe).toBe(200);
    }

    // The state: created by the CA itself, one root and intermediate, in the release namespace.
    const state = (await stateSecret(NS))!;
    expect(Object.keys(state).sort()).toEqual([
      'authority-1.ca-cert.pem',
      'authority-1.ca-key.pem',
      'authority-1.cert-chain.pem',
      'authority-1.jwt-key.pem',
      'authority-1.root-cert.pem',
      'authority-1.root-key.pem',
      'bundle.pem',
      'ca.json',
    ]);
    bundleBefore = state['bundle.pem']!;
    const secretCreates = () =>
      server.auditEvents((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets' && e.objectRef.namespace === NS && e.objectRef.name === 'castellan-ca');
    await until(() => secretCreates().length > 0, 'the audit event of the Secret creation', 10_000);
    expect(secretCreates().map((e) => [e.user.username, e.objectRef?.name, e.responseStatus?.code])).toEqual([[`system:serviceaccount:${NS}:rel-castellan`, 'castellan-ca', 201]]);
    // Leader election: the pod's name (its host name) holds the Lease.
    await until(async () => (await lease(NS)) === ca.pod.metadata.name, 'the CA pod holds the Lease', 60_000);
    // The bundle in every namespace but the excluded ones, including one created after the CA started.
    await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'late' } });
    await until(async () => (await configMap('late', 'castellan-root-cert')) !== undefined, 'castellan-root-cert in a new namespace', 60_000);
    for (const ns of [NS, 'default', 'shop', 'late']) {
      const cm = await configMap(ns, 'castellan-root-cert');
      expect(cm?.data, ns).toEqual({ 'root-cert.pem': bundleBefore });
      expect(cm?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('castellan');
    }
    expect(await configMap('kube-system', 'castellan-root-cert')).toBeUndefined();
    expect(await configMap('shop', 'istio-ca-root-cert')).toBeUndefined();

    // A workload with its pod-bound token (audience castellan) gets its identity, verified against the published bundle.
    const token = await server.requestToken('shop', 'web', { audiences: ['castellan'], pod: web });
    const req = await certRequest(
      `127.0.0.1:${ports.grpc}`,
      `rel-castellan.${NS}.svc`,
      (await configMap('shop', 'castellan-root-cert'))!.data['root-cert.pem']!,
      token,
      'spiffe://cluster.local/ns/shop/sa/web',
    );
    expect(req.code, req.err).toBe(0);
    expect(JSON.parse(req.out)).toMatchObject({ ok: true });
    expect(server.tokenReviews(`system:serviceaccount:${NS}:rel-castellan`).length).toBeGreaterThan(0);

    // helm test: helm creates the test pod and waits for it; the test plays the kubelet (runs it, reports its phase).
    const test = helm(['test', 'rel', '-n', NS, '--timeout', '5m']);
    let testPod: StoredPod | undefined;
    await until(async () => (testPod = await server.get<StoredPod>(`/api/v1/namespaces/${NS}/pods/rel-castellan-test`)) !== undefined, 'the helm test pod', 60_000);
    const testArgs = await podmanRunArgs(testPod!, 'cert-request', { api: server, workDir: t.dir, hosts: { [`rel-castellan.${NS}.svc`]: '127.0.0.1' } });
    const ran = await podman(['run', '--rm', ...RUNTIME, ...testArgs]);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(ran.stdout).toContain('ok         identity is the expected one');
    await server.call('PATCH', `/api/v1/namespaces/${NS}/pods/rel-castellan-test/status`, { status: { phase: 'Succeeded' } }, { contentType: 'application/merge-patch+json' });
    const tested = await test;
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/TEST SUITE:\s+rel-castellan-test[\s\S]*Phase:\s+Succeeded/);

    // The build the image carries (REVISION=test).
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    expect(metrics).toMatch(/castellan_build_info\{version="0\.1\.0",commit="test",node_version="[^"]+"\} 1/);
    expect(metrics).toMatch(/^castellan_store_problem 0$/m);

    expect(await ca.stop()).toBe(0);
    const logs = await ca.logs();
    expect(logs).toContain('castellan CA stopped');
    expect(problems(logs)).toEqual([]);
    expect(refusals(NS, 'rel-castellan')).toEqual([]);
  }, 600_000);

  it('ok/Istio mode by helm upgrade (ci/istio-values.yaml): the same root, istio-ca-root-cert published, an Istio-agent-style client dialling 127.0.0.1 (IP SAN) with an istio-ca token gets a certificate', async () => {
    expect(bundleBefore, 'runs after the TokenReview test').toBeDefined();
    const upgrade = await helm([
      'upgrade',
      'rel',
      CHART,
      '-n',
      NS,
      '--values',
      path.join(CI_DIR, 'istio-values.yaml'),
      ...common(),
      '--set',
      'ca.servingIpAddresses={10.96.0.15,127.0.0.1}',
    ]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const ca = await startCaPod(NS, 'rel-castellan', 'd3e4f', { ledgerDir: path.join(t.dir, 'ledger') });
    await ready(ports.http, ca);
    // A new pod of the same release keeps the state: same root.
    expect((await stateSecret(NS))!['bundle.pem']).toBe(bundleBefore);
    await until(async () => (await configMap('shop', 'istio-ca-root-cert')) !== undefined, 'istio-ca-root-cert in shop', 60_000);
    for (const ns of [NS, 'default', 'shop', 'late']) {
      expect((await configMap(ns, 'istio-ca-root-cert'))?.data, ns).toEqual({ 'root-cert.pem': bundleBefore });
      expect((await configMap(ns, 'castellan-root-cert'))?.data, ns).toEqual({ 'root-cert.pem': bundleBefore });
    }
    // pilot-agent's inputs: CA_ADDR=127.0.0.1:<port>, the roots from istio-ca-root-cert, its token with audience istio-ca.
    const roots = (await configMap('shop', 'istio-ca-root-cert'))!.data['root-cert.pem']!;
    const istioToken = await server.requestToken('shop', 'web', { audiences: ['istio-ca'], pod: web });
    const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
    for (const serverName of [undefined, 'istiod.istio-system.svc']) {
      const client = new (caProtos().istio)(
        `127.0.0.1:${ports.grpc}`,
        credentials.createSsl(Buffer.from(roots)),
        serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {},
      );
      try {
        const csr = await testCsr({ uris: [WEB] });
        const r = await unary<{ certChain: string[] }>(client, 'CreateCertificate', { csr: csr.pem, validityDuration: 3600 }, istioToken, 30_000);
        expect([r.code, r.details], serverName ?? '127.0.0.1').toEqual([OK, undefined]);
        const chain = r.response!.certChain;
        expect(new X509Certificate(chain[0]!).subjectAltName).toBe(`URI:${WEB}`);
        // istiod's shape: leaf, intermediates, then the root last.
        expect(chain[chain.length - 1]!.trim()).toBe(bundleBefore.trim());
        expect(opensslVerify(t.dir, chain[0]!, [...chain.slice(1, -1), roots]).status).toBe(0);
        const other = await unary(
          client,
          'CreateCertificate',
          { csr: csr.pem, validityDuration: 3600 },
          await server.requestToken('shop', 'web', { audiences: ['someone-else'], pod: web }),
          30_000,
        );
        expect(other.code).toBe(UNAUTHENTICATED);
      } finally {
        client.close();
      }
    }
    // The same with istio.io/api's generated client and grpc-go, which checks the IP SAN itself.
    if (haveGo) {
      const bin = path.join(t.dir, 'istio-client');
      const build = spawnSync('go', ['build', '-o', bin, '.'], { cwd: path.resolve('test/interop/istio-client'), encoding: 'utf8', timeout: 600_000 });
      expect(build.status, build.stderr).toBe(0);
      writeFileSync(path.join(t.dir, 'istio-root.pem'), roots);
      writeFileSync(path.join(t.dir, 'istio-token'), istioToken);
      const r = await promisify(execFile)(
        bin,
        ['-addr', `127.0.0.1:${ports.grpc}`, '-root', path.join(t.dir, 'istio-root.pem'), '-server-name', '', '-token-file', path.join(t.dir, 'istio-token'), '-spiffe-id', WEB],
        { encoding: 'utf8', timeout: 60_000 },
      );
      const out = JSON.parse(r.stdout) as { code: string; message?: string; certChain?: string[] };
      expect([out.code, out.message]).toEqual(['OK', undefined]);
      expect(new X509Certificate(out.certChain![0]!).subjectAltName).toBe(`URI:${WEB}`);
    } else {
      console.log('Istio mode: the grpc-go client part is skipped (`go` is not installed)');
    }
    expect(await ca.stop()).toBe(0);
    expect(problems(await ca.logs())).toEqual([]);
    expect(refusals(NS, 'rel-castellan')).toEqual([]);
  }, 600_000);

  it("ok/JWKS with pod binding by helm upgrade (ci/jwks-values.yaml): discovery at kubernetes.default.svc with the pod's token and ca.crt, a workload certificate, refused once its pod is gone, no TokenReview", async () => {
    expect(bundleBefore, 'runs after the TokenReview test').toBeDefined();
    const apiPort = new URL(server.url).port;
    const upgrade = await helm([
      'upgrade',
      'rel',
      CHART,
      '-n',
      NS,
      '--values',
      path.join(CI_DIR, 'jwks-values.yaml'),
      ...common(),
      '--set',
      `ca.authentication.jwks.discoveryUrl=https://kubernetes.default.svc:${apiPort}/.well-known/openid-configuration`,
    ]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    const reviewsBefore = server.tokenReviews(`system:serviceaccount:${NS}:rel-castellan`).length;
    // In a pod, kubernetes.default.svc is the API server's Service; here it is the host's loopback.
    const ca = await startCaPod(NS, 'rel-castellan', 'g5h6i', { ledgerDir: path.join(t.dir, 'ledger'), hosts: { 'kubernetes.default.svc': '127.0.0.1' } });
    await ready(ports.http, ca);
    const pod = await server.createPod('shop', 'web-1', 'web');
    const token = await server.requestToken('shop', 'web', { audiences: ['castellan'], pod });
    const roots = (await configMap('shop', 'castellan-root-cert'))!.data['root-cert.pem']!;
    const ok = await certRequest(`127.0.0.1:${ports.grpc}`, `rel-castellan.${NS}.svc`, roots, token, 'spiffe://cluster.local/ns/shop/sa/web');
    expect(ok.code, `${ok.err}\n${await ca.logs()}`).toBe(0);
    await server.deletePod('shop', 'web-1');
    // The token is still valid as a JWT; only the pod lookup (RBAC: pods get) can refuse it.
    const host = `rel-castellan.${NS}.svc`;
    const client = new (caProtos().istio)(`127.0.0.1:${ports.grpc}`, credentials.createSsl(Buffer.from(roots)), {
      'grpc.ssl_target_name_override': host,
      'grpc.default_authority': host,
    });
    try {
      const csr = (await testCsr()).pem;
      let code = OK;
      await until(
        async () => (code = (await unary(client, 'CreateCertificate', { csr, validityDuration: 600 }, token, 30_000)).code) !== OK,
        "the deleted pod's token is refused",
        90_000,
      );
      expect(code).toBe(UNAUTHENTICATED);
    } finally {
      client.close();
    }
    const podReads = server.auditEvents(
      (e) => e.user.username === `system:serviceaccount:${NS}:rel-castellan` && e.verb === 'get' && e.objectRef?.resource === 'pods' && e.objectRef.name === 'web-1',
    );
    expect(podReads.map((e) => e.responseStatus?.code)).toContain(404);
    expect(server.tokenReviews(`system:serviceaccount:${NS}:rel-castellan`).length).toBe(reviewsBefore);
    expect(await ca.stop()).toBe(0);
    expect(problems(await ca.logs())).toEqual([]);
    expect(refusals(NS, 'rel-castellan')).toEqual([]);
  }, 600_000);

  it.skipIf(!pgTestUrl)(
    'ok/two replicas (ci/postgres-ha-values.yaml) sharing only the API server and a PostgreSQL ledger: one root, both issue, the Lease moves when the leader stops, audit verify passes',
    async () => {
      const ns = 'castellan-ha';
      await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      const db = await freshPgDatabase();
      cleanups.push(db.drop);
      await server.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'castellan-ledger-db', namespace: ns }, stringData: { url: db.url } });
      const install = await helm(['install', 'ha', CHART, '-n', ns, '--values', path.join(CI_DIR, 'postgres-ha-values.yaml'), ...common()]);
      expect(install.code, install.stderr).toBe(0);
      expect((await server.get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${ns}/deployments/ha-castellan`))!.spec.replicas).toBe(2);
      // Both pods share the host's network here, so the second listens on other ports (the only difference).
      const second = { grpc: await freePort(), http: await freePort() };
      const [a, b] = await Promise.all([
        startCaPod(ns, 'ha-castellan', 'aaaaa'),
        startCaPod(ns, 'ha-castellan', 'bbbbb', { editConfig: (c) => ({ ...c, listen: `0.0.0.0:${second.grpc}`, http: `0.0.0.0:${second.http}` }) }),
      ]);
      await Promise.all([ready(ports.http, a), ready(second.http, b)]);
      const state = (await stateSecret(ns))!;
      expect((JSON.parse(state['ca.json']!) as { authorities: unknown[] }).authorities).toHaveLength(1);
      const roots = state['bundle.pem']!;
      expect(roots).not.toBe(bundleBefore);
      const token = await server.requestToken('shop', 'web', { audiences: ['castellan'], pod: web });
      for (const port of [ports.grpc, second.grpc]) {
        const r = await certRequest(`127.0.0.1:${port}`, `ha-castellan.${ns}.svc`, roots, token, 'spiffe://prod.example.org/ns/shop/sa/web');
        expect(r.code, `${r.err}\n${await a.logs()}\n${await b.logs()}`).toBe(0);
      }
      const leader = await lease(ns);
      expect([a.pod.metadata.name, b.pod.metadata.name]).toContain(leader);
      const [first, other] = leader === a.pod.metadata.name ? [a, b] : [b, a];
      expect(await first.stop()).toBe(0);
      await until(async () => (await lease(ns)) === other.pod.metadata.name, 'the other replica takes the Lease', 60_000);
      const otherPort = other === a ? ports.grpc : second.grpc;
      const after = await certRequest(`127.0.0.1:${otherPort}`, `ha-castellan.${ns}.svc`, roots, token, 'spiffe://prod.example.org/ns/shop/sa/web');
      expect(after.code, after.err).toBe(0);
      expect(await other.stop()).toBe(0);
      for (const r of [a, b]) expect(problems(await r.logs())).toEqual([]);
      expect(refusals(ns, 'ha-castellan')).toEqual([]);
      // The ledger both wrote, checked against the state and head witness in the API server.
      const config = path.join(t.dir, 'audit.yaml');
      writeFileSync(config, toYaml({ trustDomain: 'prod.example.org', store: { kubernetes: { namespace: ns, kubeconfig: server.adminKubeconfigPath } }, ledger: { url: db.url } }));
      const verify = await cli(['audit', 'verify', '--config', config]);
      expect(verify.code, verify.err + verify.out).toBe(0);
      expect(verify.out).toContain('OK: the ledger is intact');
    },
    600_000,
  );
  if (!pgTestUrl) console.log(`the two-replica case: ${pgSkipReason}`);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

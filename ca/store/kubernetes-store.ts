import { createHash } from 'node:crypto';
import type { CoreV1Api, KubeConfig, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { parseCaState, serializeCaState, STATE_FILE } from '../ca-state.js';
import { caError } from '../errors.js';
import type { KeyMaterial } from '../key-provider.js';
import { readLedgerHeadText, type LedgerHead, type LedgerRecord } from '../ledger/index.js';
import type { AgentReportStore, CaStore, ReplicaReport, StoredAuthority, StoreSnapshot } from './ca-store.js';
import { parseReplicaReport } from './directory-store.js';
import { apiStatus, callOptions, describeApiError, kubeModule, rbacHint, type KubeModule } from './kube-api.js';

/** Labels of everything this store writes (kubernetes.io "Recommended Labels"). */
export const STORE_LABELS = { 'app.kubernetes.io/managed-by': 'castellan', 'app.kubernetes.io/part-of': 'castellan' } as const;
/** Marks the ConfigMaps holding CA replicas' agent reports; the value is the state Secret's name. */
export const AGENT_REPORT_LABEL = 'castellan.io/agent-report';
/** Kubernetes refuses objects over 1 MiB; stop well before. */
const MAX_SECRET_BYTES = 900 * 1024;

export interface KubernetesStoreOptions {
  readonly kubeConfig: KubeConfig;
  /** The CA's namespace: the state Secret, the witness and the agent reports live there. */
  readonly namespace: string;
  /** The state Secret. Default `castellan-ca`. */
  readonly secretName?: string;
  /** Per-request timeout, ms. Default 10000. */
  readonly requestTimeoutMs?: number;
  /** How often `watch` also reads the Secret, in case a watch event was missed, ms. Default 30000. */
  readonly resyncMs?: number;
}

/**
 * The CA's state in Kubernetes (docs/kubernetes.md): keys, certificates and `ca.json` in ONE Secret of
 * the CA's namespace, replaced with its `resourceVersion` so a transition is all-or-nothing and two
 * replicas never both commit one; the ledger head witness in a ConfigMap beside it; each replica's
 * agent report in a ConfigMap of its own. Replicas follow the Secret with a watch. No shared volume.
 *
 * @example const store = kubernetesStore({ kubeConfig, namespace: 'castellan-system' });
 */
export function kubernetesStore(o: KubernetesStoreOptions): CaStore {
  const name = o.secretName ?? 'castellan-ca';
  const ns = o.namespace;
  const stop = new AbortController();
  const timeoutMs = o.requestTimeoutMs ?? 10_000;
  let client: Promise<{ k8s: KubeModule; api: CoreV1Api }> | undefined;
  const api = () => (client ??= kubeModule().then((k8s) => ({ k8s, api: o.kubeConfig.makeApiClient(k8s.CoreV1Api) })));
  const opts = (k8s: KubeModule) => callOptions(k8s, stop.signal, timeoutMs);
  const location = `kubernetes secret ${ns}/${name}`;
  const fail = (k8s: KubeModule, err: unknown, verb: string, what = 'secrets', object = name) =>
    caError(
      'ERR_STORE_UNAVAILABLE',
      `ca: cannot ${verb} ${what === 'secrets' ? 'secret' : 'configmap'} ${ns}/${object}: ${describeApiError(k8s, err)}${rbacHint(apiStatus(k8s, err), verb, what, ns, object)}`,
      {
        cause: err,
      },
    );

  const readSecret = async (): Promise<V1Secret | undefined> => {
    const { k8s, api: core } = await api();
    try {
      return await core.readNamespacedSecret({ name, namespace: ns }, opts(k8s));
    } catch (err) {
      if (apiStatus(k8s, err) === 404) return undefined;
      throw fail(k8s, err, 'get');
    }
  };

  const store: CaStore = {
    kind: 'kubernetes',
    location,
    async read() {
      const secret = await readSecret();
      return secret === undefined ? undefined : snapshotOf(secret, location);
    },
    async commit(base, next) {
      const { k8s, api: core } = await api();
      const data: Record<string, string> = base === undefined ? {} : { ...(base as KubeSnapshot).data };
      data[STATE_FILE] = serializeCaState(next.state);
      data['bundle.pem'] = next.bundlePem;
      for (const [id, a] of next.add) Object.assign(data, authorityData(id, a));
      const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      const size = Object.values(encoded).reduce((n, v) => n + v.length, 0);
      if (size > MAX_SECRET_BYTES) {
        throw caError(
          'ERR_STORE_UNAVAILABLE',
          `ca: ${location} would grow to ${Math.round(size / 1024)} KiB, near Kubernetes' 1 MiB object limit; retire old authorities or move keys to an HSM`,
        );
      }
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name,
          namespace: ns,
          labels: { ...STORE_LABELS },
          annotations: { 'castellan.io/bundle-sequence': String(next.state.bundleSequence ?? 1) },
          ...(base !== undefined ? { resourceVersion: base.version } : {}),
        },
        data: encoded,
      };
      try {
        if (base === undefined) await core.createNamespacedSecret({ namespace: ns, body, fieldManager: 'castellan' }, opts(k8s));
        else await core.replaceNamespacedSecret({ name, namespace: ns, body, fieldManager: 'castellan' }, opts(k8s));
      } catch (err) {
        const status = apiStatus(k8s, err);
        if (status === 409 || (status === 404 && base !== undefined)) {
          throw caError('ERR_STORE_CONFLICT', `ca: ${location} changed while this transition ran (another replica committed first); it runs again on the new state`, {
            cause: err,
          });
        }
        throw fail(k8s, err, base === undefined ? 'create' : 'update');
      }
    },
    // The commit is a compare-and-swap on resourceVersion: nothing to lock.
    exclusive: (fn) => fn(),
    // A transition writes nothing before its commit: nothing to clean up.
    repair: async () => {},
    watch(onChange, onError) {
      let closed = false;
      let abort: AbortController | undefined;
      let retryTimer: NodeJS.Timeout | undefined;
      let backoff = 1_000;
      const start = async () => {
        if (closed) return;
        try {
          const k8s = await kubeModule();
          const w = new k8s.Watch(o.kubeConfig);
          abort = await w.watch(
            `/api/v1/namespaces/${ns}/secrets`,
            { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: false },
            () => {
              backoff = 1_000;
              onChange();
            },
            (err: unknown) => {
              if (closed) return;
              if (err) onError(err instanceof Error ? err : new Error(String(err)));
              // The API server ends watches after a while (and on errors): start again, with backoff after errors.
              retryTimer = setTimeout(() => void start(), err ? backoff : 0);
              backoff = Math.min(backoff * 2, 30_000);
              retryTimer.unref();
            },
          );
          // Events between the last read and the watch's start would be lost: look once more.
          onChange();
        } catch (err) {
          if (closed) return;
          onError(err as Error);
          retryTimer = setTimeout(() => void start(), backoff);
          backoff = Math.min(backoff * 2, 30_000);
          retryTimer.unref();
        }
      };
      void start();
      const resync = setInterval(() => onChange(), o.resyncMs ?? 30_000);
      resync.unref();
      return () => {
        closed = true;
        clearTimeout(retryTimer);
        clearInterval(resync);
        abort?.abort();
      };
    },
    async close() {
      stop.abort();
    },
    witness: configMapWitness(o, api, opts, `${name}-ledger-head`),
    agentReports: configMapAgentReports(o, api, opts, name),
  };
  return store;
}

interface KubeSnapshot extends StoreSnapshot {
  readonly data: Readonly<Record<string, string>>;
}

function snapshotOf(secret: V1Secret, location: string): KubeSnapshot {
  const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  const text = data[STATE_FILE];
  if (text === undefined) throw caError('ERR_CA_DIR', `ca: ${location} has no ${STATE_FILE} key; it is not a Castellan CA state (or was edited)`);
  return {
    state: parseCaState(text, `${location}, key ${STATE_FILE}`),
    version: secret.metadata?.resourceVersion ?? '',
    data,
    async authority(id) {
      const get = (k: string) => data[`authority-${id}.${k}`];
      const need = (k: string) => {
        const v = get(k);
        if (v === undefined) throw caError('ERR_CA_DIR', `ca: ${location} lacks key authority-${id}.${k}; the CA state is incomplete (edited by hand?)`);
        return v;
      };
      const key = (base: string): KeyMaterial | undefined => {
        const uri = get(`${base}.pkcs11`);
        if (uri !== undefined) return { kind: 'pkcs11', uri: uri.trim() };
        const pem = get(`${base}.pem`);
        return pem === undefined ? undefined : { kind: 'pem', pem };
      };
      const caKey = key('ca-key');
      if (!caKey) need('ca-key.pem');
      const rootKey = key('root-key');
      const jwtKey = key('jwt-key');
      const cross = get('cross-cert.pem');
      return {
        rootCertPem: need('root-cert.pem'),
        caCertPem: need('ca-cert.pem'),
        certChainPem: need('cert-chain.pem'),
        ...(cross !== undefined ? { crossCertPem: cross } : {}),
        ...(rootKey ? { rootKey } : {}),
        caKey: caKey!,
        ...(jwtKey ? { jwtKey } : {}),
      };
    },
  };
}

function authorityData(id: number, a: StoredAuthority): Record<string, string> {
  const p = `authority-${id}.`;
  const key = (base: string, m: KeyMaterial) => (m.kind === 'pem' ? { [`${p}${base}.pem`]: m.pem } : { [`${p}${base}.pkcs11`]: m.uri });
  return {
    [`${p}root-cert.pem`]: a.rootCertPem,
    [`${p}ca-cert.pem`]: a.caCertPem,
    [`${p}cert-chain.pem`]: a.certChainPem,
    ...(a.crossCertPem !== undefined ? { [`${p}cross-cert.pem`]: a.crossCertPem } : {}),
    ...(a.rootKey ? key('root-key', a.rootKey) : {}),
    ...key('ca-key', a.caKey),
    ...(a.jwtKey ? key('jwt-key', a.jwtKey) : {}),
  };
}

type Api = () => Promise<{ k8s: KubeModule; api: CoreV1Api }>;
type Opts = (k8s: KubeModule) => ReturnType<typeof callOptions>;

/** The ledger head witness in a ConfigMap, moved forward with resourceVersion, never backwards. */
function configMapWitness(o: KubernetesStoreOptions, api: Api, opts: Opts, name: string) {
  const ns = o.namespace;
  const KEY = 'ledger-head.json';
  const read = async (): Promise<{ cm: V1ConfigMap; head: LedgerHead | undefined } | undefined> => {
    const { k8s, api: core } = await api();
    try {
      const cm = await core.readNamespacedConfigMap({ name, namespace: ns }, opts(k8s));
      const text = cm.data?.[KEY];
      return { cm, head: text === undefined ? undefined : readLedgerHeadText(text, `configmap ${ns}/${name}`) };
    } catch (err) {
      if (apiStatus(k8s, err) === 404) return undefined;
      throw caError(
        'ERR_STORE_UNAVAILABLE',
        `ledger: cannot read configmap ${ns}/${name}: ${describeApiError(k8s, err)}${rbacHint(apiStatus(k8s, err), 'get', 'configmaps', ns, name)}`,
        { cause: err },
      );
    }
  };
  return {
    location: `configmap ${ns}/${name}`,
    read: async () => (await read())?.head,
    async advance(checkpoint: LedgerRecord): Promise<LedgerHead> {
      const { k8s, api: core } = await api();
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await read();
        if (current?.head && current.head.checkpoint.seq >= checkpoint.seq) return current.head;
        const head: LedgerHead = { format: 1, checkpoint };
        const body: V1ConfigMap = {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace: ns, labels: { ...STORE_LABELS }, ...(current ? { resourceVersion: current.cm.metadata?.resourceVersion ?? '' } : {}) },
          data: { [KEY]: `${JSON.stringify(head, null, 2)}\n` },
        };
        try {
          if (current) await core.replaceNamespacedConfigMap({ name, namespace: ns, body, fieldManager: 'castellan' }, opts(k8s));
          else await core.createNamespacedConfigMap({ namespace: ns, body, fieldManager: 'castellan' }, opts(k8s));
          return head;
        } catch (err) {
          if (apiStatus(k8s, err) === 409) continue; // another replica moved it: look again
          throw caError('ERR_STORE_UNAVAILABLE', `ledger: cannot write configmap ${ns}/${name}: ${describeApiError(k8s, err)}`, { cause: err });
        }
      }
      throw caError('ERR_STORE_UNAVAILABLE', `ledger: configmap ${ns}/${name} kept changing; the witness stays where it is`);
    },
  };
}

/** ConfigMap names for agent reports: a DNS-1123 name derived from the replica id (hashed when it had to change). */
export function agentReportName(store: string, replica: string): string {
  const clean = replica
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  const base = `${store}-agents-${clean}`.slice(0, 200).replace(/-+$/, '');
  return clean === replica ? base : `${base}-${createHash('sha256').update(replica).digest('hex').slice(0, 8)}`;
}

function configMapAgentReports(o: KubernetesStoreOptions, api: Api, opts: Opts, storeName: string): AgentReportStore {
  const ns = o.namespace;
  const KEY = 'report.json';
  const selector = `${AGENT_REPORT_LABEL}=${storeName}`;
  const readOne = async (replica: string) => {
    const { k8s, api: core } = await api();
    try {
      return await core.readNamespacedConfigMap({ name: agentReportName(storeName, replica), namespace: ns }, opts(k8s));
    } catch (err) {
      if (apiStatus(k8s, err) === 404) return undefined;
      throw err;
    }
  };
  return {
    async publish(report) {
      const { k8s, api: core } = await api();
      const name = agentReportName(storeName, report.replica);
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: ns, labels: { ...STORE_LABELS, [AGENT_REPORT_LABEL]: storeName } },
        data: { [KEY]: JSON.stringify(report) },
      };
      // Only this replica writes its report: a plain replace (no resourceVersion) is right; create on 404.
      try {
        await core.replaceNamespacedConfigMap({ name, namespace: ns, body, fieldManager: 'castellan' }, opts(k8s));
      } catch (err) {
        if (apiStatus(k8s, err) !== 404)
          throw caError(
            'ERR_STORE_UNAVAILABLE',
            `agents: cannot write configmap ${ns}/${name}: ${describeApiError(k8s, err)}${rbacHint(apiStatus(k8s, err), 'update', 'configmaps', ns, name)}`,
            { cause: err },
          );
        await core.createNamespacedConfigMap({ namespace: ns, body, fieldManager: 'castellan' }, opts(k8s));
      }
    },
    async own(replica) {
      const cm = await readOne(replica);
      const text = cm?.data?.[KEY];
      return text === undefined ? undefined : parseReplicaReport(text);
    },
    async all() {
      const { k8s, api: core } = await api();
      let list;
      try {
        list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector }, opts(k8s));
      } catch (err) {
        throw caError('ERR_STORE_UNAVAILABLE', `agents: cannot list configmaps in ${ns}: ${describeApiError(k8s, err)}${rbacHint(apiStatus(k8s, err), 'list', 'configmaps', ns)}`, {
          cause: err,
        });
      }
      const out: ReplicaReport[] = [];
      for (const cm of list.items) {
        const r = cm.data?.[KEY] === undefined ? undefined : parseReplicaReport(cm.data[KEY]!);
        if (r) out.push(r);
      }
      return out.sort((a, b) => a.replica.localeCompare(b.replica));
    },
    async prune(before) {
      const { k8s, api: core } = await api();
      const list = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector }, opts(k8s));
      let n = 0;
      for (const cm of list.items) {
        const r = cm.data?.[KEY] === undefined ? undefined : parseReplicaReport(cm.data[KEY]!);
        if (r && Date.parse(r.writtenAt) >= before.getTime()) continue;
        try {
          await core.deleteNamespacedConfigMap(
            { name: cm.metadata!.name!, namespace: ns, body: { preconditions: { resourceVersion: cm.metadata?.resourceVersion ?? '' } } },
            opts(k8s),
          );
          n++;
        } catch (err) {
          // 404: gone already; 409: the replica wrote again meanwhile: it is alive.
          if (![404, 409].includes(apiStatus(k8s, err) ?? 0)) throw err;
        }
      }
      return n;
    },
  };
}

import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { TrustDomain } from '../../workload-identity/index.js';
import { checkCacerts, importCacerts, initCa } from '../create-ca.js';
import { caError } from '../errors.js';
import type { KeyProvider } from '../key-provider.js';
import { keyProviderFor } from '../state-keys.js';
import { parseKeyType } from '../key-type.js';
import { loadCa, type CaDirectory } from '../load-ca.js';
import {
  alwaysLeader,
  apiStatus,
  callOptions,
  describeApiError,
  directoryStore,
  kubeModule,
  kubernetesStore,
  LeaderElection,
  podNamespace,
  rbacHint,
  type CaStore,
  type Leadership,
} from '../store/index.js';
import type { ResolvedCaConfig } from './ca-config.js';
import { CA_CONFIG_DEFAULTS } from './ca-config-defaults.js';

/** The default namespace of a CA outside a pod. */
const DEFAULT_NAMESPACE = CA_CONFIG_DEFAULTS.namespace;

export interface OpenedCaStore {
  readonly store: CaStore;
  readonly ca: CaDirectory;
  readonly leadership: Leadership;
  /** A loaded kubeconfig when the store is Kubernetes (the bundle publisher reuses it). */
  readonly kubeConfig?: KubeConfig;
}

/**
 * The store a CA configuration names, without creating anything: the directory `dir`, or the Kubernetes
 * Secret of store.kubernetes (what `castellan root/audit/check --config` act on).
 *
 * @example const { store } = await storeFromConfig(config, undefined, (f) => loadKubeConfig(f));
 */
export async function storeFromConfig(
  config: ResolvedCaConfig,
  dir: string | undefined,
  loadKube: (file: string | undefined) => Promise<KubeConfig>,
): Promise<{ store: CaStore; kubeConfig?: KubeConfig; namespace?: string }> {
  const k = config.store?.kubernetes;
  if (!k) {
    if (dir === undefined) throw caError('ERR_CONFIG', 'give the CA directory (--dir or CASTELLAN_DIR), or configure store.kubernetes');
    return { store: directoryStore(dir, { pollMs: config.rotation.reloadIntervalMs }) };
  }
  if (dir !== undefined) throw caError('ERR_CONFIG', '--dir and store.kubernetes exclude each other: the CA state is either in a directory or in Kubernetes');
  const kubeConfig = await loadKube(k.kubeconfig);
  const namespace = k.namespace ?? (await podNamespace()) ?? DEFAULT_NAMESPACE;
  return { store: kubernetesStore({ kubeConfig, namespace, secretName: k.secretName }), kubeConfig, namespace };
}

/**
 * The store the configuration names (docs/kubernetes.md): the CA directory `dir`, or Kubernetes. A
 * Kubernetes store that holds no CA yet is created here — from the `cacerts` Secret when one is named
 * and exists, else a new root and intermediate for `trustDomain`; two replicas racing to create it
 * both end up loading the one that was created first (the create is refused for the second).
 *
 * @example const { store, ca, leadership } = await openCaStore({ dir: '/var/lib/castellan', config, keys, log, loadKubeConfig });
 */
export async function openCaStore(o: {
  readonly dir?: string;
  readonly config: ResolvedCaConfig;
  /** Default: what the CA state names, or (creating a store) the config's keys.pkcs11, else software keys. */
  readonly keys?: KeyProvider;
  readonly log: Logger;
  readonly loadKubeConfig: (file: string | undefined) => Promise<KubeConfig>;
  readonly now?: () => Date;
}): Promise<OpenedCaStore> {
  const { store, kubeConfig, namespace } = await storeFromConfig(o.config, o.dir, o.loadKubeConfig);
  const k = o.config.store?.kubernetes;
  if (!k || !kubeConfig || namespace === undefined) {
    const ca = await loadCa(store, o.keys ?? (await keysOf(store, o.config)));
    checkTrustDomain(o.config, ca);
    return { store, ca, leadership: alwaysLeader };
  }
  let ca: CaDirectory | undefined;
  for (let attempt = 0; attempt < 3 && !ca; attempt++) {
    if (await store.read()) {
      ca = await loadCa(store, o.keys ?? (await keysOf(store, o.config)));
      break;
    }
    try {
      ca = await createInKubernetes(store, kubeConfig, namespace, o);
    } catch (err) {
      // Another replica created it between our read and our create: load theirs.
      if ((err as { code?: string }).code !== 'ERR_STORE_CONFLICT') throw err;
    }
  }
  if (!ca) throw caError('ERR_STORE_UNAVAILABLE', `ca: ${store.location} could not be created or read; check the API server and the CA's RBAC`);
  checkTrustDomain(o.config, ca);
  const leadership = new LeaderElection({
    kubeConfig,
    namespace,
    identity: o.config.replicaId,
    leaseName: k.leaseName,
    leaseDurationMs: k.leaseDurationMs,
    renewDeadlineMs: k.renewDeadlineMs,
    ...(o.now ? { now: o.now } : {}),
    log: o.log.child({ subsystem: 'leader-election' }),
  });
  return { store, ca, leadership, kubeConfig };
}

/** The provider of an existing CA: what its state names, with the config's PIN source. */
async function keysOf(store: CaStore, config: ResolvedCaConfig): Promise<KeyProvider | undefined> {
  const snap = await store.read();
  return snap ? keyProviderFor(snap.state.keys, pinOf(config)) : undefined;
}

async function createInKubernetes(store: CaStore, kubeConfig: KubeConfig, namespace: string, o: Parameters<typeof openCaStore>[0]): Promise<CaDirectory> {
  const k = o.config.store!.kubernetes!;
  const now = o.now?.() ?? new Date();
  const given = o.config.trustDomain !== undefined ? TrustDomain.of(o.config.trustDomain) : undefined;
  if (k.cacertsSecretName) {
    const material = await readCacertsSecret(kubeConfig, namespace, k.cacertsSecretName);
    if (material) {
      checkCacerts(material, given, now);
      o.log.info({ store: store.location, from: material.source }, 'ca store: importing the cacerts Secret (plugged-in CA)');
      return importCacerts({ store, material, ...(given ? { trustDomain: given } : {}), now });
    }
    o.log.info({ secret: `${namespace}/${k.cacertsSecretName}` }, 'ca store: no cacerts Secret; creating a new root');
  }
  if (!given) {
    throw caError('ERR_CONFIG', `config: trustDomain is required: ${store.location} holds no CA yet and the CA must create one (or give store.kubernetes.cacertsSecretName)`);
  }
  o.log.info({ store: store.location, trustDomain: given.name }, 'ca store: empty; creating a new root and intermediate');
  const p = o.config.keys?.pkcs11;
  const stateKeys = p ? { pkcs11: { module: p.module, ...(p.token !== undefined ? { token: p.token } : {}), ...(p.slot !== undefined ? { slot: p.slot } : {}) } } : undefined;
  const keys = o.keys ?? (await keyProviderFor(stateKeys, pinOf(o.config)));
  return initCa({
    store,
    trustDomain: given,
    keys,
    ...(stateKeys ? { stateKeys } : {}),
    keyType: parseKeyType(k.keyType),
    rootTtlMs: k.rootTtlMs,
    intermediateTtlMs: k.intermediateTtlMs,
    now,
  });
}

/** Istio's plug-in CA Secret (keys ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem); undefined when absent. */
async function readCacertsSecret(kubeConfig: KubeConfig, namespace: string, name: string) {
  const k8s = await kubeModule();
  const api: CoreV1Api = kubeConfig.makeApiClient(k8s.CoreV1Api);
  let secret;
  try {
    secret = await api.readNamespacedSecret({ name, namespace }, callOptions(k8s, new AbortController().signal, 10_000));
  } catch (err) {
    if (apiStatus(k8s, err) === 404) return undefined;
    throw caError(
      'ERR_STORE_UNAVAILABLE',
      `cacerts: cannot read secret ${namespace}/${name}: ${describeApiError(k8s, err)}${rbacHint(apiStatus(k8s, err), 'get', 'secrets', namespace, name)}`,
      {
        cause: err,
      },
    );
  }
  const text = (key: string) => {
    const v = secret.data?.[key];
    if (v === undefined) throw caError('ERR_CACERTS', `cacerts: secret ${namespace}/${name} has no key ${key} (want ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)`);
    return Buffer.from(v, 'base64').toString('utf8');
  };
  return {
    caCertPem: text('ca-cert.pem'),
    caKeyPem: text('ca-key.pem'),
    certChainPem: text('cert-chain.pem'),
    rootCertPem: text('root-cert.pem'),
    source: `secret ${namespace}/${name}`,
  };
}

/** The PIN source the config names for its PKCS#11 token (default: the CASTELLAN_PKCS11_PIN* environment). */
export function pinOf(config: Pick<ResolvedCaConfig, 'keys'>): { pinFile?: string; pinEnv?: string } {
  const p = config.keys?.pkcs11;
  return p?.pinFile !== undefined ? { pinFile: p.pinFile } : p?.pinEnv !== undefined ? { pinEnv: p.pinEnv } : {};
}

function checkTrustDomain(config: ResolvedCaConfig, ca: CaDirectory): void {
  if (config.trustDomain !== undefined && config.trustDomain !== ca.trustDomain.name) {
    throw caError(
      'ERR_CONFIG',
      `config: trustDomain is ${config.trustDomain}, but the CA in ${ca.store.location} is for ${ca.trustDomain.name}; a CA's trust domain never changes (fix the config, or point it at another store)`,
    );
  }
}

import { hostname } from 'node:os';
import type { IdentityPolicy } from '../../workload-identity/index.js';
import { BUNDLE_CONFIGMAP_KEY, BUNDLE_CONFIGMAP_NAME } from './bundle-configmaps.js';
import { CA_CONFIG_DEFAULTS } from './ca-config-defaults.js';
import type { CaServerConfig } from './config.js';
import type { RateLimit } from './rate-limiter.js';

/**
 * The CA's configuration resolved once (docs/configuration.md): the file's sections as `config.ts`'s
 * schema validated them, with every default (ca-config-defaults.ts) filled in here and nowhere else,
 * durations in ms. What is still optional has no static default: it is absent on purpose (no second
 * authenticator, no federation) or learnt at start (the pod's namespace, the trust domain of the CA's
 * state).
 */

type Given = CaServerConfig;
type GivenKubernetes = NonNullable<NonNullable<Given['store']>['kubernetes']>;
type GivenJwks = NonNullable<NonNullable<Given['authentication']>['jwks']>;
type GivenTokenReview = NonNullable<NonNullable<Given['authentication']>['tokenReview']>;
type GivenConfigMaps = NonNullable<NonNullable<Given['distribution']>['configMaps']>;
type GivenClusterTrustBundle = NonNullable<NonNullable<Given['distribution']>['clusterTrustBundle']>;
type GivenBundleEndpoint = NonNullable<NonNullable<Given['federation']>['bundleEndpoint']>;
/** One `federation.trustDomains` entry as given (its refresh interval follows the endpoint's hint when absent). */
export type FederatedTrustDomainConfig = NonNullable<NonNullable<Given['federation']>['trustDomains']>[number];
/** `keys.pkcs11` as given (the PIN source defaults to the CASTELLAN_PKCS11_PIN* environment, read at start). */
export type Pkcs11Config = NonNullable<NonNullable<Given['keys']>['pkcs11']>;

/** store.kubernetes, resolved (docs/kubernetes.md). */
export interface ResolvedKubernetesStore {
  /** store.kubernetes.namespace, else the top-level namespace when given; absent: this pod's namespace, else castellan-system (found at start). */
  readonly namespace?: string;
  readonly secretName: string;
  readonly cacertsSecretName?: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  /** The leader renews its Lease within this time: 66 % of a given leaseDuration, else 10s. */
  readonly renewDeadlineMs: number;
  readonly kubeconfig?: string;
  readonly keyType: NonNullable<GivenKubernetes['keyType']>;
  readonly rootTtlMs: number;
  readonly intermediateTtlMs: number;
}

/** The CA's complete configuration: what `startCaServer` and everything it builds read (config.ts documents each key). */
export interface ResolvedCaConfig {
  /** Absent: taken from the CA's state (a CA that creates its state needs it). */
  readonly trustDomain?: string;
  /** Absent kubernetes: the CA directory (--dir). */
  readonly store: { readonly kubernetes?: ResolvedKubernetesStore };
  readonly keys: { readonly pkcs11?: Pkcs11Config };
  readonly listen: string;
  readonly http: string;
  readonly namespace: string;
  /** Default castellan.<namespace>.svc, localhost. */
  readonly servingDnsNames: readonly string[];
  readonly servingIpAddresses: readonly string[];
  readonly workloadTtlMs: number;
  readonly maxWorkloadTtlMs: number;
  readonly istioCompat: boolean;
  readonly authentication: {
    readonly jwks?: Omit<GivenJwks, 'audiences' | 'requirePodBinding'> & { readonly audiences: readonly string[]; readonly requirePodBinding: boolean };
    readonly tokenReview?: Omit<GivenTokenReview, 'audiences' | 'cacheTtl'> & { readonly audiences: readonly string[]; readonly cacheTtlMs: number };
    readonly clientCertificate: boolean;
    readonly clientCertificateOnly: boolean;
    readonly devIssuer: boolean;
  };
  readonly policy: IdentityPolicy;
  readonly limits: {
    readonly maxRequestBytes: number;
    readonly global: RateLimit;
    readonly perIdentity: RateLimit;
    readonly perPeer: RateLimit;
    readonly maxWatchers: number;
    readonly maxWatchersPerIdentity: number;
    readonly maxWatchersPerPeer: number;
    readonly maxWatchersPerIdentityPeer: number;
    readonly maxAgentsPerIdentity: number;
    readonly maxAgentsPerIdentityPeer: number;
    readonly maxConnectionsPerPeer: number;
    readonly handshakeTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly connectionIdleTimeoutMs: number;
    readonly connectionMaxAgeMs: number;
    readonly connectionMaxAgeGraceMs: number;
  };
  readonly ledger: {
    /** PostgreSQL; absent with path: SQLite `<CA dir>/ledger.db`. */
    readonly url?: string;
    readonly path?: string;
    readonly checkpointEvery: number;
    readonly checkpointIntervalMs: number;
    readonly sqliteSynchronous: 'full' | 'normal';
    readonly enabled: boolean;
  };
  readonly shutdownGraceMs: number;
  /** Signing worker threads (0: none; `auto`: autoSigningWorkers for the cores counted at start). */
  readonly signingWorkers: number | 'auto';
  readonly rotation: {
    readonly intermediateRotateAt: number;
    /** Absent: the lifetime of the intermediate it replaces. */
    readonly intermediateTtlMs?: number;
    readonly reloadIntervalMs: number;
    readonly agentLivenessMs: number;
    readonly agentWarmupMs: number;
  };
  readonly distribution: {
    readonly configMaps?: {
      readonly enabled: boolean;
      /** Every ConfigMap the bundle goes to: `name`/`key` first, then `additional` (keys defaulted). */
      readonly targets: readonly { readonly name: string; readonly key: string }[];
      readonly kubeconfig?: string;
      readonly excludeNamespaces: readonly string[];
      readonly resyncIntervalMs: number;
    };
    readonly clusterTrustBundle?: {
      readonly enabled: boolean;
      /** Absent: castellan.io/<trust domain> (known once the CA's state is loaded). */
      readonly signerName?: string;
      readonly kubeconfig?: string;
      readonly resyncIntervalMs: number;
    };
  };
  readonly jwtSvid: { readonly defaultTtlMs: number; readonly maxTtlMs: number; readonly keyPublishLeadMs: number };
  readonly federation: {
    readonly bundleEndpoint?: Omit<GivenBundleEndpoint, 'path' | 'refreshHint'> & { readonly path: string; readonly refreshHintMs: number };
    readonly trustDomains: readonly FederatedTrustDomainConfig[];
  };
  readonly admin: { readonly identities: readonly string[] };
  readonly replicaId: string;
}

/**
 * Fills every default into a validated configuration (validateCaServerConfig / loadCaServerConfig) and
 * freezes the result: the one place the CA's defaults are applied. `hostname` is the default replicaId.
 *
 * @example resolveCaConfig({ listen: '0.0.0.0:15012' }).http // '127.0.0.1:15014'
 */
export function resolveCaConfig(given: CaServerConfig, o: { hostname?: string } = {}): ResolvedCaConfig {
  const D = CA_CONFIG_DEFAULTS;
  // A copy: freezing the result must not freeze the caller's arrays and objects.
  const c = structuredClone(given);
  const namespace = c.namespace ?? D.namespace;
  const auth = c.authentication ?? {};
  const limits = c.limits ?? {};
  const ledger = c.ledger ?? {};
  const rotation = c.rotation ?? {};
  const jwt = c.jwtSvid ?? {};
  const resolved: ResolvedCaConfig = {
    ...(c.trustDomain !== undefined ? { trustDomain: c.trustDomain } : {}),
    store: c.store?.kubernetes ? { kubernetes: kubernetesStore(c.store.kubernetes, c.namespace) } : {},
    keys: c.keys?.pkcs11 ? { pkcs11: { ...c.keys.pkcs11 } } : {},
    listen: c.listen ?? D.listen,
    http: c.http ?? D.http,
    namespace,
    servingDnsNames: c.servingDnsNames ?? [`castellan.${namespace}.svc`, 'localhost'],
    servingIpAddresses: c.servingIpAddresses ?? [],
    workloadTtlMs: c.workloadTtl ?? D.workloadTtlMs,
    maxWorkloadTtlMs: c.maxWorkloadTtl ?? D.maxWorkloadTtlMs,
    istioCompat: c.istioCompat ?? false,
    authentication: {
      ...(auth.jwks ? { jwks: { ...auth.jwks, audiences: auth.jwks.audiences ?? D.audiences, requirePodBinding: auth.jwks.requirePodBinding ?? false } } : {}),
      ...(auth.tokenReview ? { tokenReview: tokenReview(auth.tokenReview) } : {}),
      clientCertificate: auth.clientCertificate ?? true,
      clientCertificateOnly: auth.clientCertificateOnly ?? false,
      devIssuer: auth.devIssuer ?? false,
    },
    // zod leaves absent keys out, which is what IdentityPolicy's optional fields mean.
    policy: { ...((c.policy ?? {}) as IdentityPolicy) },
    limits: {
      maxRequestBytes: limits.maxRequestBytes ?? D.limits.maxRequestBytes,
      global: limits.global ?? D.limits.global,
      perIdentity: limits.perIdentity ?? D.limits.perIdentity,
      perPeer: limits.perPeer ?? D.limits.perPeer,
      maxWatchers: limits.maxWatchers ?? D.limits.maxWatchers,
      maxWatchersPerIdentity: limits.maxWatchersPerIdentity ?? D.limits.maxWatchersPerIdentity,
      maxWatchersPerPeer: limits.maxWatchersPerPeer ?? D.limits.maxWatchersPerPeer,
      maxWatchersPerIdentityPeer: limits.maxWatchersPerIdentityPeer ?? D.limits.maxWatchersPerIdentityPeer,
      maxAgentsPerIdentity: limits.maxAgentsPerIdentity ?? D.limits.maxAgentsPerIdentity,
      maxAgentsPerIdentityPeer: limits.maxAgentsPerIdentityPeer ?? D.limits.maxAgentsPerIdentityPeer,
      maxConnectionsPerPeer: limits.maxConnectionsPerPeer ?? D.limits.maxConnectionsPerPeer,
      handshakeTimeoutMs: limits.handshakeTimeout ?? D.limits.handshakeTimeoutMs,
      requestTimeoutMs: limits.requestTimeout ?? D.limits.requestTimeoutMs,
      connectionIdleTimeoutMs: limits.connectionIdleTimeout ?? D.limits.connectionIdleTimeoutMs,
      connectionMaxAgeMs: limits.connectionMaxAge ?? D.limits.connectionMaxAgeMs,
      connectionMaxAgeGraceMs: limits.connectionMaxAgeGrace ?? D.limits.connectionMaxAgeGraceMs,
    },
    ledger: {
      ...(ledger.url !== undefined ? { url: ledger.url } : {}),
      ...(ledger.path !== undefined ? { path: ledger.path } : {}),
      checkpointEvery: ledger.checkpointEvery ?? D.ledger.checkpointEvery,
      checkpointIntervalMs: ledger.checkpointInterval ?? D.ledger.checkpointIntervalMs,
      sqliteSynchronous: ledger.sqliteSynchronous ?? D.ledger.sqliteSynchronous,
      enabled: ledger.enabled ?? true,
    },
    shutdownGraceMs: c.shutdownGrace ?? D.shutdownGraceMs,
    signingWorkers: c.signingWorkers ?? D.signingWorkers,
    rotation: {
      intermediateRotateAt: rotation.intermediateRotateAt ?? D.rotation.intermediateRotateAt,
      ...(rotation.intermediateTtl !== undefined ? { intermediateTtlMs: rotation.intermediateTtl } : {}),
      reloadIntervalMs: rotation.reloadInterval ?? D.rotation.reloadIntervalMs,
      agentLivenessMs: rotation.agentLiveness ?? D.rotation.agentLivenessMs,
      agentWarmupMs: rotation.agentWarmup ?? D.rotation.agentWarmupMs,
    },
    distribution: {
      ...(c.distribution?.configMaps ? { configMaps: configMaps(c.distribution.configMaps) } : {}),
      ...(c.distribution?.clusterTrustBundle ? { clusterTrustBundle: clusterTrustBundle(c.distribution.clusterTrustBundle) } : {}),
    },
    jwtSvid: {
      defaultTtlMs: jwt.defaultTtl ?? D.jwtSvid.defaultTtlMs,
      maxTtlMs: jwt.maxTtl ?? D.jwtSvid.maxTtlMs,
      keyPublishLeadMs: jwt.keyPublishLead ?? D.jwtSvid.keyPublishLeadMs,
    },
    federation: {
      ...(c.federation?.bundleEndpoint ? { bundleEndpoint: bundleEndpoint(c.federation.bundleEndpoint) } : {}),
      trustDomains: (c.federation?.trustDomains ?? []).map((t) => ({ ...t })),
    },
    admin: { identities: c.admin?.identities ?? [] },
    replicaId: c.replicaId ?? o.hostname ?? hostname(),
  };
  return deepFreeze(resolved);
}

/**
 * The bundle ConfigMaps a configuration publishes, as `{ name, key }` with the defaults applied
 * (none while distribution.configMaps is absent or not enabled).
 *
 * @example bundleConfigMaps({ distribution: { configMaps: { enabled: true } } }) // [{ name: 'castellan-root-cert', key: 'root-cert.pem' }]
 */
export function bundleConfigMaps(c: Pick<CaServerConfig, 'distribution'>): { name: string; key: string }[] {
  const cms = c.distribution?.configMaps;
  return cms?.enabled ? configMaps(cms).targets.map((t) => ({ ...t })) : [];
}

function kubernetesStore(k: GivenKubernetes, namespace: string | undefined): ResolvedKubernetesStore {
  const D = CA_CONFIG_DEFAULTS.kubernetes;
  const ns = k.namespace ?? namespace;
  return {
    ...(ns !== undefined ? { namespace: ns } : {}),
    secretName: k.secretName ?? D.secretName,
    ...(k.cacertsSecretName !== undefined ? { cacertsSecretName: k.cacertsSecretName } : {}),
    leaseName: k.leaseName ?? D.leaseName,
    leaseDurationMs: k.leaseDuration ?? D.leaseDurationMs,
    renewDeadlineMs: k.leaseDuration !== undefined ? Math.round(k.leaseDuration * 0.66) : D.renewDeadlineMs,
    ...(k.kubeconfig !== undefined ? { kubeconfig: k.kubeconfig } : {}),
    keyType: k.keyType ?? D.keyType,
    rootTtlMs: k.rootTtl ?? D.rootTtlMs,
    intermediateTtlMs: k.intermediateTtl ?? D.intermediateTtlMs,
  };
}

function tokenReview(t: GivenTokenReview): NonNullable<ResolvedCaConfig['authentication']['tokenReview']> {
  const { cacheTtl, ...rest } = t;
  return { ...rest, audiences: t.audiences ?? CA_CONFIG_DEFAULTS.audiences, cacheTtlMs: cacheTtl ?? CA_CONFIG_DEFAULTS.tokenReviewCacheTtlMs };
}

function configMaps(cms: GivenConfigMaps): NonNullable<ResolvedCaConfig['distribution']['configMaps']> {
  return {
    enabled: cms.enabled,
    targets: [
      { name: cms.name ?? BUNDLE_CONFIGMAP_NAME, key: cms.key ?? BUNDLE_CONFIGMAP_KEY },
      ...(cms.additional ?? []).map((a) => ({ name: a.name, key: a.key ?? BUNDLE_CONFIGMAP_KEY })),
    ],
    ...(cms.kubeconfig !== undefined ? { kubeconfig: cms.kubeconfig } : {}),
    excludeNamespaces: cms.excludeNamespaces ?? [],
    resyncIntervalMs: cms.resyncInterval ?? CA_CONFIG_DEFAULTS.resyncIntervalMs,
  };
}

function clusterTrustBundle(ctb: GivenClusterTrustBundle): NonNullable<ResolvedCaConfig['distribution']['clusterTrustBundle']> {
  return {
    enabled: ctb.enabled,
    ...(ctb.signerName !== undefined ? { signerName: ctb.signerName } : {}),
    ...(ctb.kubeconfig !== undefined ? { kubeconfig: ctb.kubeconfig } : {}),
    resyncIntervalMs: ctb.resyncInterval ?? CA_CONFIG_DEFAULTS.resyncIntervalMs,
  };
}

function bundleEndpoint(ep: GivenBundleEndpoint): NonNullable<ResolvedCaConfig['federation']['bundleEndpoint']> {
  const { path, refreshHint, ...rest } = ep;
  return { ...rest, path: path ?? CA_CONFIG_DEFAULTS.bundleEndpoint.path, refreshHintMs: refreshHint ?? CA_CONFIG_DEFAULTS.bundleEndpoint.refreshHintMs };
}

/** Freezes a plain value and everything in it (arrays included), so no part of a resolved config changes after the start. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

import { isIP } from 'node:net';
import { z } from 'zod';
import {
  durationField,
  hostPortField,
  identityPolicyProblems,
  positiveDurationField,
  readConfigFile,
  spiffeIdWithPathField,
  trustDomainField,
  type IdentityPolicy,
} from '../../workload-identity/index.js';
import { caError } from '../errors.js';
import { isPostgresUrl } from '../ledger/index.js';
import { BUNDLE_CONFIGMAP_NAME } from './bundle-configmaps.js';
import { CA_CONFIG_DEFAULTS } from './ca-config-defaults.js';

const duration = durationField;
/** Intervals and lifetimes where 0 would be a busy loop or an instant expiry (found by fuzzing). */
const positiveDuration = positiveDurationField;
const hostPort = hostPortField;
const rate = z.object({ ratePerSecond: z.number().positive(), burst: z.number().int().min(1) }).strict();
const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'want a Kubernetes name (lower case, digits, -)');
/** RFC 1123 host names (RFC 5280 §4.2.1.6: a dNSName is never an IP address; those go in iPAddress). */
const DNS_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i;
const dnsName = z.string().superRefine((s, ctx) => {
  if (isIP(s.replace(/^\[|\]$/g, '')) !== 0)
    ctx.addIssue({ code: 'custom', message: `"${s}" is an IP address: put it in servingIpAddresses (an iPAddress SAN), not in servingDnsNames` });
  else if (s.length > 253 || !DNS_NAME.test(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not a DNS name (RFC 1123: letters, digits, - and . ; at most 253 characters)` });
});
const ipAddress = z.string().refine((s) => !s.includes('%') && isIP(s) !== 0, { message: 'want an IPv4 or IPv6 address, e.g. 127.0.0.1 or ::1 (no brackets, no port)' });
/** A ConfigMap data key (Kubernetes: [-._a-zA-Z0-9]+, at most 253 characters). */
const configMapKey = z.string().regex(/^[-._a-zA-Z0-9]{1,253}$/, 'want a ConfigMap key: letters, digits, - _ .');

const httpsUrl = z
  .string()
  .url()
  .refine((u) => {
    const url = new URL(u);
    return url.protocol === 'https:' && url.username === '' && url.password === '';
  }, 'want an https:// URL without userinfo (SPIFFE Federation §5.2.1.1, §5.2.2.1)');

/** SPIFFE federation (docs/federation.md): this CA's bundle endpoint and the trust domains it federates with. */
const federationSchema = z
  .object({
    /** Serve this trust domain's SPIFFE bundle over HTTPS (SPIFFE Federation §5). Absent: not served. */
    bundleEndpoint: z
      .object({
        /** host:port to listen on, e.g. 0.0.0.0:8443. */
        listen: hostPortField,
        /** The URL path the bundle is served at. Default /. */
        path: z
          .string()
          .regex(/^\/[\x21-\x7e]*$/, 'want an absolute URL path such as / or /bundle.json')
          .optional(),
        /** https_web: a certificate from a CA peers trust (certFile, keyFile); https_spiffe: the CA's own X509-SVID (spiffe://<td>/castellan/ca). */
        profile: z.enum(['https_web', 'https_spiffe']),
        /** https_web: PEM certificate chain (re-read when it changes). */
        certFile: z.string().min(1).optional(),
        /** https_web: PEM private key. */
        keyFile: z.string().min(1).optional(),
        /** spiffe_refresh_hint of the served bundle. Default 5m. */
        refreshHint: positiveDurationField.optional(),
      })
      .strict()
      .refine((e) => e.profile !== 'https_web' || (e.certFile !== undefined && e.keyFile !== undefined), { message: 'https_web needs certFile and keyFile' })
      .optional(),
    /** Foreign trust domains whose bundles this CA fetches and gives to its workloads. */
    trustDomains: z
      .array(
        z
          .object({
            trustDomain: trustDomainField,
            /** The foreign bundle endpoint (SPIFFE Federation §5.1). */
            bundleEndpointUrl: httpsUrl,
            profile: z.enum(['https_web', 'https_spiffe']),
            /** https_spiffe: the SPIFFE ID the endpoint's X509-SVID must carry (§5.2.2.2). */
            endpointSpiffeId: spiffeIdWithPathField.optional(),
            /** A file with the trust domain's bundle (SPIFFE bundle JSON, or PEM roots): used until the first fetch, and to authenticate a self-serving https_spiffe endpoint the first time. */
            initialBundle: z.string().min(1).optional(),
            /** https_web: PEM roots to verify the endpoint with instead of the system's (a private web PKI). */
            caFile: z.string().min(1).optional(),
            /** Refresh this often whatever the endpoint's refresh hint says. Default: the hint, between 30s and 1h (5m without one). */
            refreshInterval: positiveDurationField.optional(),
          })
          .strict()
          .refine((t) => t.profile !== 'https_spiffe' || t.endpointSpiffeId !== undefined, { message: 'https_spiffe needs endpointSpiffeId (SPIFFE Federation §5.2.2.2)' }),
      )
      .refine((l) => new Set(l.map((t) => t.trustDomain)).size === l.length, { message: 'a trust domain appears twice' })
      .optional(),
  })
  .strict();

/** store: where the CA's keys and state live. */
const storeSchema = z
  .object({
    /** Keys and state in Kubernetes (docs/kubernetes.md) instead of a CA directory. */
    kubernetes: z
      .object({
        /** The CA's namespace (its Secret, Lease, witness and agent reports). Default: this pod's namespace, else castellan-system. */
        namespace: k8sName.optional(),
        /** The Secret holding keys, certificates and ca.json. Default castellan-ca. */
        secretName: k8sName.optional(),
        /** An Istio `cacerts` Secret (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem) imported when the state Secret does not exist yet. */
        cacertsSecretName: k8sName.optional(),
        /** The coordination.k8s.io/v1 Lease electing the replica that runs singleton jobs. Default castellan-leader. */
        leaseName: k8sName.optional(),
        /** A leader not renewing for this long is replaced. Default 15s. */
        leaseDuration: positiveDuration.optional(),
        /** A kubeconfig path; absent: the in-cluster configuration. */
        kubeconfig: z.string().optional(),
        /** Key type of the root and intermediate the CA creates when the store is empty. Default ec-p256. */
        keyType: z.enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']).optional(),
        /** Lifetime of the root the CA creates. Default 10y. */
        rootTtl: positiveDuration.optional(),
        /** Lifetime of the intermediate the CA creates. Default 1y. */
        intermediateTtl: positiveDuration.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The CA server's configuration file (YAML or JSON). Every field is optional; each comment names its
 * default, which `resolveCaConfig` (ca-config.ts, CA_CONFIG_DEFAULTS) fills in: the server reads only
 * that resolved value.
 */
export const caServerConfigSchema = z
  .object({
    /** The trust domain of a CA that creates its own state (store.kubernetes); checked against existing state. */
    trustDomain: trustDomainField.optional(),
    /** Where keys and state live. Absent: the CA directory (--dir). */
    store: storeSchema.optional(),
    /** CA keys in an HSM (docs/pkcs11.md): used when the CA creates its keys; a CA created so records module and token in its state. */
    keys: z
      .object({
        pkcs11: z
          .object({
            /** The vendor's PKCS#11 library (.so). */
            module: z.string().min(1),
            /** The token's label. */
            token: z.string().min(1).optional(),
            /** The token's slot id. */
            slot: z.number().int().min(0).optional(),
            /** A 0600 file holding the user PIN. */
            pinFile: z.string().min(1).optional(),
            /** An environment variable holding the user PIN. Default CASTELLAN_PKCS11_PIN (or CASTELLAN_PKCS11_PIN_FILE). */
            pinEnv: z.string().min(1).optional(),
          })
          .strict()
          .refine((p) => p.token !== undefined || p.slot !== undefined, { message: 'name the token (token) or its slot (slot)' }),
      })
      .strict()
      .optional(),
    /** gRPC listen address. Default 127.0.0.1:15012. */
    listen: hostPort.optional(),
    /** Health and metrics HTTP address. Default 127.0.0.1:15014. */
    http: hostPort.optional(),
    /** Namespace the CA runs in: its serving identity and default DNS name. Default castellan-system. */
    namespace: k8sName.optional(),
    /** DNS names in the serving certificate (clients check the host they dial). Default castellan.<namespace>.svc, localhost. */
    servingDnsNames: z.array(dnsName).optional(),
    /** IP addresses in the serving certificate, for clients that dial the CA by IP (Istio's CA_ADDR=10.0.0.5:15012). Default none. */
    servingIpAddresses: z.array(ipAddress).optional(),
    /** Workload certificate lifetime when the caller asks none. Default 24h. */
    workloadTtl: duration.optional(),
    /** Longest lifetime a caller may ask for (longer: INVALID_ARGUMENT). Default 7d. */
    maxWorkloadTtl: duration.optional(),
    /** Also accept tokens for audience istio-ca (istio-agent's default). Default false. */
    istioCompat: z.boolean().optional(),
    authentication: z
      .object({
        /** Local verification of projected tokens. */
        jwks: z
          .object({
            issuer: z.string().url(),
            discoveryUrl: z.string().url().optional(),
            /** CA bundle (PEM file) for the discovery endpoint; in-cluster: the service account's ca.crt. */
            caFile: z.string().optional(),
            /** Send this token file's content as bearer on discovery (kube-apiserver wants one). */
            bearerTokenFile: z.string().optional(),
            /** Token audiences accepted. Default [castellan] (istioCompat adds istio-ca). */
            audiences: z.array(z.string().min(1)).min(1).optional(),
            /** Check that the token's pod still exists with the same UID. Default false. */
            requirePodBinding: z.boolean().optional(),
            /** Kubeconfig for the pod lookups of requirePodBinding; absent: in-cluster. */
            kubeconfig: z.string().optional(),
          })
          .strict()
          .optional(),
        /** TokenReview through the Kubernetes API. */
        tokenReview: z
          .object({
            /** A kubeconfig path; absent: the in-cluster configuration. */
            kubeconfig: z.string().optional(),
            /** Token audiences accepted. Default [castellan] (istioCompat adds istio-ca). */
            audiences: z.array(z.string().min(1)).min(1).optional(),
            /** Results are cached by token SHA-256 until min(exp, cacheTtl). Default 60s. */
            cacheTtl: duration.optional(),
          })
          .strict()
          .optional(),
        /** Accept a still-valid SVID we issued as the credential to renew that identity. Default true. */
        clientCertificate: z.boolean().optional(),
        /**
         * Start without any token authenticator, renewing by client certificate only. Default false: a CA
         * that cannot authenticate a token refuses to start (it would report ready and refuse everyone).
         */
        clientCertificateOnly: z.boolean().optional(),
        /**
         * Trust the CA directory's local dev token issuer (`castellan token mint`) with this config file.
         * NOT FOR PRODUCTION: whoever reads the issuer key obtains any identity. Default false (without
         * a config file the CA trusts it anyway).
         */
        devIssuer: z.boolean().optional(),
      })
      .strict()
      .optional(),
    policy: z
      .object({
        allowNamespaces: z.array(k8sName).optional(),
        denyNamespaces: z.array(k8sName).optional(),
        denyServiceAccounts: z
          .array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'want "namespace/serviceaccount" in Kubernetes names (lower case)'))
          .optional(),
      })
      .strict()
      .optional(),
    limits: z
      .object({
        /** Largest request accepted, bytes. Default 65536 (larger: RESOURCE_EXHAUSTED). */
        maxRequestBytes: z.number().int().min(4096).max(4_194_304).optional(),
        /** All callers together. Default 20000/s, burst 20000. */
        global: rate.optional(),
        /** Per SPIFFE ID. Default 200/s, burst 2000. */
        perIdentity: rate.optional(),
        /** Per caller IP, before authentication. Default 1000/s, burst 2000. */
        perPeer: rate.optional(),
        /** Open WatchTrustBundle streams, all callers together. Default 10000. */
        maxWatchers: z.number().int().min(1).optional(),
        /** Open WatchTrustBundle streams of one SPIFFE ID, all addresses (a node agent DaemonSet: one per node). Default 5000. */
        maxWatchersPerIdentity: z.number().int().min(1).optional(),
        /** Open WatchTrustBundle streams from one IP address, all identities. Default 256. */
        maxWatchersPerPeer: z.number().int().min(1).optional(),
        /** Open WatchTrustBundle streams of one SPIFFE ID from one IP address. Default 8. */
        maxWatchersPerIdentityPeer: z.number().int().min(1).optional(),
        /** Agent ids one SPIFFE ID may make the CA track (they gate `root activate`). Default 10000. */
        maxAgentsPerIdentity: z.number().int().min(1).optional(),
        /** Agent ids one SPIFFE ID may make the CA track from one IP address. Default 8. */
        maxAgentsPerIdentityPeer: z.number().int().min(1).optional(),
        /** Open connections from one IP address (more are closed at once). Default 256. */
        maxConnectionsPerPeer: z.number().int().min(1).optional(),
        /** A TLS handshake not finished in this time closes the connection. Default 10s. */
        handshakeTimeout: duration.optional(),
        /** A call whose request message has not arrived this long after its headers closes its connection. Default 10s. */
        requestTimeout: duration.optional(),
        /** A connection without any call for this long is closed (GOAWAY). Default 60s. */
        connectionIdleTimeout: duration.optional(),
        /** Connections are asked to go away after this age (±10 %); agents reconnect. Default 1h. */
        connectionMaxAge: duration.optional(),
        /** Calls still open this long after that request are cut (long-lived streams reconnect). Default 5m. */
        connectionMaxAgeGrace: duration.optional(),
      })
      .strict()
      .optional(),
    /** The issuance ledger (docs/architecture.md §7). Default: SQLite `<CA dir>/ledger.db`, checkpoints every 1000 records or 60s. */
    ledger: z
      .object({
        /** PostgreSQL URL shared by CA replicas (env CASTELLAN_DATABASE_URL, flag --database-url). Absent: SQLite in the CA directory. */
        url: z
          .string()
          .refine((u) => isPostgresUrl(u) && !/\s/.test(u), 'want a postgres:// or postgresql:// URL')
          .optional(),
        /** The SQLite ledger file. Default <CA dir>/ledger.db; required with store.kubernetes unless url (one replica, a persistent volume). */
        path: z.string().min(1).optional(),
        /** A signed checkpoint after this many records. Default 1000. */
        checkpointEvery: z.number().int().min(1).max(1_000_000).optional(),
        /** A signed checkpoint at least this often while records are added. Default 60s. */
        checkpointInterval: duration.optional(),
        /** SQLite: `full` fsyncs every commit (survives power loss), `normal` survives a crash of the CA process only. Default full. */
        sqliteSynchronous: z.enum(['full', 'normal']).optional(),
        /** false: record nothing. NOT FOR PRODUCTION: only for measuring the ledger's cost. Default true. */
        enabled: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** How long a shutdown waits for in-flight requests. Default 10s. */
    shutdownGrace: duration.optional(),
    /**
     * Worker threads that check CSRs and sign certificates, so that issuance uses every core
     * (docs/architecture.md §4); 0: on the event loop, signatures on the libuv pool. Default auto: none on
     * two cores or fewer, else one per core but one, at most 4. A PKCS#11 key always signs on the event
     * loop (the token does the work).
     */
    signingWorkers: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).optional(),
    /** Root and intermediate rotation (docs/architecture.md §6). */
    rotation: z
      .object({
        /** Rotate the active intermediate at this fraction of its lifetime (the old one stays valid: overlap). Default 0.5; 1 disables. */
        intermediateRotateAt: z.number().gt(0).max(1).optional(),
        /** Lifetime of automatically rotated intermediates. Default: that of the intermediate it replaces. */
        intermediateTtl: positiveDuration.optional(),
        /** How often the CA checks its directory for changes made by `castellan root` and rotation due. Default 2s. */
        reloadInterval: positiveDuration.optional(),
        /** An agent not heard from for this long no longer gates root activation. Default 5m. */
        agentLiveness: positiveDuration.optional(),
        /** A replica that started less than this ago and heard from no agent yet does not count as knowing the agents. Default 30s. */
        agentWarmup: duration.optional(),
      })
      .strict()
      .optional(),
    /** Where else the trust bundle goes (docs/architecture.md §6). */
    distribution: z
      .object({
        /** The ConfigMap `castellan-root-cert` (key `root-cert.pem`) in every namespace, updated on every change. */
        configMaps: z
          .object({
            enabled: z.boolean(),
            /** ConfigMap name. Default castellan-root-cert (Istio's agents read istio-ca-root-cert). */
            name: k8sName.max(253).optional(),
            /** Data key holding the PEM bundle. Default root-cert.pem. */
            key: configMapKey.optional(),
            /** More ConfigMaps with the same bundle, e.g. [{ name: istio-ca-root-cert }] beside castellan-root-cert. */
            additional: z.array(z.object({ name: k8sName.max(253), key: configMapKey.optional() }).strict()).optional(),
            /** A kubeconfig path; absent: the in-cluster configuration. */
            kubeconfig: z.string().optional(),
            /** Namespaces to leave alone. */
            excludeNamespaces: z.array(k8sName).optional(),
            /** How often every namespace is checked again (new namespaces are found then). Default 1m. */
            resyncInterval: positiveDuration.optional(),
          })
          .strict()
          .optional(),
        /**
         * A certificates.k8s.io ClusterTrustBundle (Kubernetes 1.33+ with the ClusterTrustBundle feature gate)
         * holding the trust bundle, kept in step by the leader; skipped while the API server serves none.
         */
        clusterTrustBundle: z
          .object({
            enabled: z.boolean(),
            /** The bundle's signer name. Default castellan.io/<trust domain>. The CA needs "attest" on it (docs/kubernetes.md). */
            signerName: z
              .string()
              .regex(
                /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+\/[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
                'want <domain>/<name> in DNS-1123 labels, e.g. castellan.io/cluster.local',
              )
              .max(200)
              .optional(),
            /** A kubeconfig path; absent: the in-cluster configuration (or store.kubernetes's). */
            kubeconfig: z.string().optional(),
            /** How often the object is checked again. Default 1m. */
            resyncInterval: positiveDuration.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** JWT-SVIDs (docs/jwt-svid.md). */
    jwtSvid: z
      .object({
        /** Lifetime when the caller asks none. Default 5m. */
        defaultTtl: positiveDuration.optional(),
        /** Longest lifetime a caller may ask for (longer: INVALID_ARGUMENT). Default 1h. */
        maxTtl: positiveDuration.optional(),
        /** A new JWT key is in the bundle this long before it signs (keep it above federated peers' refresh interval). Default 10m. */
        keyPublishLead: duration.optional(),
      })
      .strict()
      .optional(),
    federation: federationSchema.optional(),
    /** Who may run `castellan root ... --server` against this CA. Default: nobody. */
    admin: z
      .object({
        /** SPIFFE IDs of operators (a service-account token, e.g. spiffe://<td>/ns/castellan-system/sa/castellan-admin, or a client certificate). */
        identities: z.array(spiffeIdWithPathField).optional(),
      })
      .strict()
      .optional(),
    /** This replica's name in agent reports (`<CA dir>/agents/<replicaId>.json`). Default: the host name (the pod name in Kubernetes). */
    replicaId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'want letters, digits, _ . - (at most 128)')
      .optional(),
  })
  .strict()
  .refine((c) => [c.authentication?.jwks, c.authentication?.tokenReview, c.authentication?.devIssuer].filter(Boolean).length <= 1, {
    message: 'choose one token authenticator: authentication.jwks, authentication.tokenReview or authentication.devIssuer',
    path: ['authentication'],
  })
  .refine((c) => !(c.ledger?.url && c.ledger?.path), { message: 'choose one ledger: ledger.url (PostgreSQL) or ledger.path (SQLite)', path: ['ledger'] })
  .refine((c) => new Set(bundleConfigMapNames(c)).size === bundleConfigMapNames(c).length, {
    message: 'a ConfigMap name appears twice (name and additional)',
    path: ['distribution', 'configMaps', 'additional'],
  });

function bundleConfigMapNames(c: {
  distribution?: { configMaps?: { enabled: boolean; name?: string | undefined; additional?: { name: string }[] | undefined } | undefined } | undefined;
}): string[] {
  const cms = c.distribution?.configMaps;
  return cms ? [cms.name ?? BUNDLE_CONFIGMAP_NAME, ...(cms.additional ?? []).map((a) => a.name)] : [];
}

export type CaServerConfig = z.output<typeof caServerConfigSchema>;

/**
 * Validates a parsed configuration, listing every problem by path in one error.
 *
 * @example validateCaServerConfig({ workloadTtl: '25x' }) // throws: config: workloadTtl: "25x" is not a duration ...
 */
export function validateCaServerConfig(raw: unknown, source = 'config'): CaServerConfig {
  const r = caServerConfigSchema.safeParse(raw ?? {});
  const lines = r.success ? [] : r.error.issues.map((i) => `  ${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
  if (r.success) {
    const c = r.data;
    // Cross-field checks, against the defaults the server applies (ca-config.ts) when a field is absent.
    const ttl = c.workloadTtl ?? CA_CONFIG_DEFAULTS.workloadTtlMs;
    const max = c.maxWorkloadTtl ?? CA_CONFIG_DEFAULTS.maxWorkloadTtlMs;
    if (c.workloadTtl !== undefined && c.workloadTtl <= 0) lines.push('  workloadTtl: must be longer than 0');
    if (c.maxWorkloadTtl !== undefined && c.maxWorkloadTtl <= 0) lines.push('  maxWorkloadTtl: must be longer than 0');
    if (ttl > max) lines.push(`  workloadTtl: ${ttl / 1000}s is longer than maxWorkloadTtl ${max / 1000}s`);
    const j = c.jwtSvid;
    const jwtMax = j?.maxTtl ?? CA_CONFIG_DEFAULTS.jwtSvid.maxTtlMs;
    if (j?.defaultTtl !== undefined && j.defaultTtl > jwtMax) lines.push(`  jwtSvid.defaultTtl: ${j.defaultTtl / 1000}s is longer than jwtSvid.maxTtl ${jwtMax / 1000}s`);
    for (const t of c.federation?.trustDomains ?? []) {
      if (c.trustDomain !== undefined && t.trustDomain === c.trustDomain) lines.push(`  federation.trustDomains: ${t.trustDomain} is this CA's own trust domain`);
    }
    for (const problem of identityPolicyProblems((c.policy ?? {}) as IdentityPolicy)) lines.push(`  policy: ${problem}`);
    if (lines.length === 0) return c;
  }
  throw caError('ERR_CONFIG', `${source}: ${lines.length} problem${lines.length > 1 ? 's' : ''}:\n${lines.join('\n')}`);
}

/**
 * Reads (readConfigFile: YAML or JSON) and validates a configuration file; `resolveCaConfig` then fills
 * in the defaults.
 *
 * @example const config = resolveCaConfig(await loadCaServerConfig('/etc/castellan/ca.yaml'));
 */
export async function loadCaServerConfig(file: string): Promise<CaServerConfig> {
  return validateCaServerConfig(await readConfigFile(file), `config ${file}`);
}

/**
 * Why a CA with this configuration would not start, if it configures no way to authenticate a caller
 * (fail closed: a CA that cannot authenticate a token would report ready and refuse everyone); said by
 * `ca serve` at start and by `castellan config validate`.
 */
export const NO_TOKEN_AUTHENTICATOR =
  'no token authenticator: configure authentication.jwks or authentication.tokenReview (or authentication.devIssuer for local development); ' +
  'to renew by client certificate only, set authentication.clientCertificateOnly: true';

/** NO_TOKEN_AUTHENTICATOR when the file configures no authenticator, else undefined. */
export function missingAuthenticator(config: CaServerConfig): string | undefined {
  const a = config.authentication;
  return a?.jwks || a?.tokenReview || a?.devIssuer || a?.clientCertificateOnly ? undefined : NO_TOKEN_AUTHENTICATOR;
}

import { readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import type { Logger } from 'pino';
import {
  authorizeCaller,
  ClientCertificateAuthenticator,
  JwksAuthenticator,
  kubernetesPodLookup,
  loadKubeConfig,
  parseHostPort,
  TokenReviewAuthenticator,
  type Authenticator,
  type TrustDomain,
} from '../../workload-identity/index.js';
import type { SigningAuthority } from '../issuer.js';
import { loadDevTokenIssuer } from '../dev-token-issuer.js';
import { caError } from '../errors.js';
import type { KeyProvider } from '../key-provider.js';
import { ledgerHealth, openLedger, openLedgerStore, type Ledger, type LedgerStoreLocation } from '../ledger/index.js';
import { flushPendingRecords, rememberLedger } from '../authority-rotation.js';
import { closeKeyProviders } from '../state-keys.js';
import { LeaderElection, type CaStore, type Leadership } from '../store/index.js';
import { AgentTracker } from './agent-tracker.js';
import { CaServer } from './ca-server.js';
import { BundleConfigMapPublisher } from './bundle-configmaps.js';
import { openCaStore } from './open-ca-store.js';
import { StoreFollower } from './store-follower.js';
import { RootAdmin } from './root-admin.js';
import { resolveCaConfig, type ResolvedCaConfig } from './ca-config.js';
import { NO_TOKEN_AUTHENTICATOR, type CaServerConfig } from './config.js';
import { ClusterTrustBundlePublisher, defaultSignerName } from './cluster-trust-bundle.js';
import { FederationManager, startBundleEndpoint, type BundleEndpoint } from '../federation/index.js';
import { ownBundleDocument } from './own-bundle.js';

export interface StartCaServerOptions {
  /** The CA directory (the directory store); absent when the config names store.kubernetes. */
  readonly dir?: string;
  /** The validated configuration (`{}` for all defaults); resolved here, once (resolveCaConfig). */
  readonly config: CaServerConfig;
  /**
   * Trust the CA directory's local dev token issuer when no token authenticator is configured: the
   * embedded default, used when the CA starts without a config file.
   */
  readonly devIssuer?: boolean;
  /** Where CA keys are made and opened. Default: in this process (PEM). */
  readonly keys?: KeyProvider;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** How the CA authenticates token callers, for the start-up log and the CLI. */
export type TokenMode = 'dev-issuer' | 'jwks' | 'tokenreview' | 'none';

async function tokenAuthenticator(td: TrustDomain, o: StartCaServerOptions, config: ResolvedCaConfig, store: CaStore): Promise<{ mode: TokenMode; authenticator?: Authenticator }> {
  const auth = config.authentication;
  const extra = config.istioCompat ? ['istio-ca'] : [];
  const now = o.now ? { now: o.now } : {};
  if (auth.jwks) {
    const j = auth.jwks;
    const ca = j.caFile ? await fs.readFile(j.caFile) : undefined;
    const bearer = j.bearerTokenFile;
    return {
      mode: 'jwks',
      authenticator: new JwksAuthenticator({
        trustDomain: td,
        issuer: j.issuer,
        audiences: [...j.audiences, ...extra],
        discovery: {
          ...(j.discoveryUrl ? { discoveryUrl: j.discoveryUrl } : {}),
          ...(ca ? { ca } : {}),
          // Projected tokens rotate on disk: read the file at each discovery.
          ...(bearer ? { bearerToken: () => readFileSync(bearer, 'utf8').trim() } : {}),
        },
        ...(j.requirePodBinding ? { requirePodBinding: true, podLookup: kubernetesPodLookup(await loadKubeConfig(j.kubeconfig, { log: o.log })) } : {}),
        ...now,
      }),
    };
  }
  if (auth.tokenReview) {
    const t = auth.tokenReview;
    return {
      mode: 'tokenreview',
      authenticator: new TokenReviewAuthenticator(await loadKubeConfig(t.kubeconfig, { log: o.log }), {
        trustDomain: td,
        audiences: [...t.audiences, ...extra],
        cacheTtlMs: t.cacheTtlMs,
        ...now,
      }),
    };
  }
  if (o.devIssuer || auth.devIssuer) {
    if (store.dir === undefined)
      throw caError('ERR_CONFIG', `config: the dev token issuer lives in a CA directory; ${store.location} has none: configure authentication.jwks or authentication.tokenReview`);
    const dev = await loadDevTokenIssuer(store.dir);
    return {
      mode: 'dev-issuer',
      authenticator: new JwksAuthenticator({ trustDomain: td, issuer: dev.issuer, audiences: ['castellan', ...extra], jwks: dev.jwks, ...now }),
    };
  }
  return { mode: 'none' };
}

/**
 * Builds and starts a CA server from its store (a CA directory, or Kubernetes) and a configuration: the
 * composition root shared by `castellan ca serve`, the tests and the benchmarks. Start-up is
 * all-or-nothing (docs/cli.md, `ca serve`): every dependency is checked and every listener bound before
 * anything is recorded or reported ready; a failed start publishes no agent report.
 *
 * @example const { server } = await startCaServer({ dir: '.castellan', config: {}, devIssuer: true, log });
 */
export async function startCaServer(o: StartCaServerOptions): Promise<{
  server: CaServer;
  tokenMode: TokenMode;
  follower: StoreFollower;
  store: CaStore;
  leadership: Leadership;
  /** Present when federation.trustDomains is configured (docs/federation.md). */
  federation?: FederationManager;
  /** Present when federation.bundleEndpoint is configured. */
  bundleEndpoint?: BundleEndpoint;
}> {
  const config = resolveCaConfig(o.config);
  const { store, ca, leadership, kubeConfig } = await openCaStore({
    ...(o.dir !== undefined ? { dir: o.dir } : {}),
    config,
    ...(o.keys ? { keys: o.keys } : {}),
    log: o.log,
    loadKubeConfig: (file) => loadKubeConfig(file, { log: o.log }),
    ...(o.now ? { now: o.now } : {}),
  });
  const keys = ca.keys;
  let server: CaServer | undefined;
  let ledger: Ledger | undefined;
  let agents: AgentTracker | undefined;
  const problems = new Map<string, string>();
  const now = o.now ?? (() => new Date());
  const rotation = config.rotation;
  const rotateAt = rotation.intermediateRotateAt;
  try {
    const { mode, authenticator } = await tokenAuthenticator(ca.trustDomain, o, config, store);
    if (mode === 'none' && !config.authentication.clientCertificateOnly) {
      // Fail closed: a CA that cannot authenticate a token would report ready and refuse everyone.
      throw caError('ERR_CONFIG', `config: ${NO_TOKEN_AUTHENTICATOR}`);
    }
    const policy = config.policy;
    if (mode === 'dev-issuer' && config.authentication.devIssuer) {
      o.log.warn(
        { listen: config.listen },
        'authentication.devIssuer is true: trusting the local dev token issuer (castellan token mint). NOT FOR PRODUCTION: anyone who can read the dev issuer key can obtain any identity from this CA',
      );
    } else if (mode === 'dev-issuer') {
      const { host } = parseHostPort(config.listen);
      const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
      o.log.warn(
        { listen: config.listen },
        loopback
          ? 'trusting the local dev token issuer (castellan token mint): for development only; use a config with jwks or tokenReview for a cluster'
          : 'trusting the local dev token issuer on a non-loopback address: anyone who can read the dev issuer key can obtain any identity from this CA',
      );
    }
    if (mode === 'none') o.log.warn('authentication.clientCertificateOnly: no token authenticator; only renewal by client certificate is possible');
    // A bad kubeconfig fails the start before anything listens.
    const cms = config.distribution.configMaps;
    const configMapsKube = cms?.enabled ? (cms.kubeconfig === undefined && kubeConfig ? kubeConfig : await loadKubeConfig(cms.kubeconfig, { log: o.log })) : undefined;
    const ctb = config.distribution.clusterTrustBundle;
    const ctbKube = ctb?.enabled ? (ctb.kubeconfig === undefined && kubeConfig ? kubeConfig : await loadKubeConfig(ctb.kubeconfig, { log: o.log })) : undefined;
    const ctbSigner = ctb?.enabled ? (ctb.signerName ?? defaultSignerName(ca.trustDomain.name)) : undefined;
    if (ctb?.enabled && ctbSigner === undefined) {
      throw caError(
        'ERR_CONFIG',
        `config: distribution.clusterTrustBundle: trust domain ${ca.trustDomain.name} is no valid signer name path (DNS-1123 labels); set distribution.clusterTrustBundle.signerName`,
      );
    }
    // Federation: bad initial bundles or CA files fail the start before anything listens (docs/federation.md).
    let federation: FederationManager | undefined;
    // Also with none configured while the state holds some: those are removed (SPIFFE Federation §6.3).
    if (config.federation.trustDomains.length > 0 || Object.keys(ca.snapshot.state.federation ?? {}).length > 0) {
      federation = await FederationManager.create({
        store,
        trustDomains: config.federation.trustDomains,
        current: () => server?.directory ?? ca,
        isLeader: () => leadership.isLeader(),
        afterCommit: async () => {
          await follower?.tick();
        },
        onStatus: () => agents?.publishSoon(),
        now,
        log: o.log.child({ subsystem: 'federation' }),
      });
    }
    // Checkpoints are signed by the intermediate that issues now (it rotates under the server).
    ledger = await startLedger(o, config, store, ca.ledgerGenesis, () => server?.activeAuthority ?? ca.active);
    agents = new AgentTracker({
      reports: store.agentReports,
      replicaId: config.replicaId,
      now,
      livenessMs: rotation.agentLivenessMs,
      warmupMs: rotation.agentWarmupMs,
      intermediateRotateAt: rotateAt,
      federation: () => federation?.report(),
      maxAgentsPerIdentity: config.limits.maxAgentsPerIdentity,
      maxAgentsPerIdentityPeer: config.limits.maxAgentsPerIdentityPeer,
      log: o.log,
    });
    // Lifecycle records a crashed `castellan root` left in the state go to the ledger before anything else
    // (in Kubernetes the leader does it: replicas would each write them).
    if (ledger && ca.pendingRecords.length > 0 && store.kind === 'directory') await flushPendingRecords(store, ledger);
    await agents.start();
    let follower: StoreFollower | undefined;
    const rootAdmin = new RootAdmin({
      store,
      keys,
      // ledger.enabled: false (benchmarks only) records nothing, lifecycle included.
      ledger: ledger ?? { appendLifecycle: async () => undefined },
      openStore: ledger ? () => openLedgerStore({ ...ledgerLocation(config, store), readOnly: true }) : undefined,
      now,
      rotateAt,
      beforeAgents: () => agents!.flush(),
      afterStep: () => follower?.tick() ?? Promise.resolve(),
    });
    server = await CaServer.start({
      agents,
      rootAdmin,
      ca,
      config,
      ...(authenticator ? { tokenAuthenticator: authenticator } : {}),
      clientCertificateAuthenticator: (bundle) => new ClientCertificateAuthenticator({ trustDomain: ca.trustDomain, bundle, ...(o.now ? { now: o.now } : {}) }),
      authorize: (caller) => authorizeCaller(policy, caller),
      notes: () => [...problems.values()],
      health: async () => {
        // The genesis the state remembers now (the server's view follows the store).
        const genesis = server?.directory.ledgerGenesis ?? ca.ledgerGenesis;
        const anchors = ledger
          ? await ledgerHealth(() => openLedgerStore({ ...ledgerLocation(config, store), readOnly: true }), {
              ...(genesis !== undefined ? { genesis } : {}),
              witness: store.witness,
            })
          : undefined;
        return { replica: config.replicaId, leader: leadership.isLeader(), ...(anchors ? { ledgerAnchors: anchors } : {}) };
      },
      log: o.log,
      ...(o.now ? { now: o.now } : {}),
      ...(ledger ? { ledger } : {}),
    });
    const s = server;
    // The ledger now holds at least the serving certificate's record: remember which ledger this is.
    if (ledger && ca.ledgerGenesis === undefined) {
      const genesis = await ledger.genesis();
      if (genesis) await rememberLedger(store, genesis, now());
    }
    agents.serving();
    s.metrics.observeStore({ problem: () => problems.has('store'), leader: () => leadership.isLeader() });
    follower = new StoreFollower({
      store,
      keys,
      intervalMs: rotation.reloadIntervalMs,
      current: () => s.directory,
      apply: (next) => s.applyDirectory(next),
      intermediateRotateAt: rotateAt,
      ...(rotation.intermediateTtlMs !== undefined ? { intermediateTtlMs: rotation.intermediateTtlMs } : {}),
      ...(ledger ? { ledger } : {}),
      isLeader: () => leadership.isLeader(),
      onProblem: (p) => (p ? problems.set('store', p) : problems.delete('store')),
      now,
      log: o.log,
    });
    // The ledger's final checkpoint at shutdown is signed with these keys and moves the head witness in the store.
    s.addFinalizer({ stop: () => store.close() });
    s.addFinalizer({ stop: () => closeKeyProviders() });
    s.addBackground(leadership);
    s.addBackground(follower);
    follower.start();
    let bundleEndpoint: BundleEndpoint | undefined;
    const ep = config.federation.bundleEndpoint;
    if (ep) {
      const hint = Math.max(1, Math.round(ep.refreshHintMs / 1000));
      bundleEndpoint = await startBundleEndpoint({
        ...parseHostPort(ep.listen),
        path: ep.path,
        profile: ep.profile,
        tls: ep.profile === 'https_web' ? { certFile: ep.certFile!, keyFile: ep.keyFile! } : { current: () => s.servingTls, onChange: (l) => s.onServingTls(l) },
        document: () => ownBundleDocument(s.trustBundle.current(), hint),
        log: o.log.child({ subsystem: 'bundle-endpoint' }),
      });
      const e = bundleEndpoint;
      s.addBackground({ stop: () => e.close() });
    }
    if (federation) {
      const f = federation;
      f.registerMetrics(s.metrics.registry);
      s.addBackground({ stop: () => f.stop() });
      f.start();
      if (leadership instanceof LeaderElection) leadership.subscribe((leader) => f.leadershipChanged(leader));
    }
    if (leadership instanceof LeaderElection) {
      // On becoming leader: at once look for pending records and due rotations, and remove reports of replicas gone for a day.
      leadership.subscribe((leader) => {
        if (!leader) return;
        void follower?.tick();
        void store.agentReports.prune(new Date(now().getTime() - 86_400_000)).catch(() => {});
      });
      leadership.start();
    }
    // One publisher per ConfigMap name (castellan-root-cert, istio-ca-root-cert, ...), on the leader only.
    for (const target of cms?.enabled && configMapsKube ? cms.targets : []) {
      startPublisherWhileLeader(
        s,
        leadership,
        () =>
          new BundleConfigMapPublisher({
            kubeConfig: configMapsKube!,
            bundle: s.trustBundle,
            name: target.name,
            key: target.key,
            excludeNamespaces: cms!.excludeNamespaces,
            resyncMs: cms!.resyncIntervalMs,
            ...(o.now ? { now: o.now } : {}),
            // Not `component`: the CA's logger carries that already, and pino would write the key twice.
            log: o.log.child({ subsystem: 'bundle-configmaps', configMap: target.name }),
          }),
      );
    }
    if (ctbKube && ctbSigner) {
      startPublisherWhileLeader(
        s,
        leadership,
        () =>
          new ClusterTrustBundlePublisher({
            kubeConfig: ctbKube,
            bundle: s.trustBundle,
            signerName: ctbSigner,
            resyncMs: ctb!.resyncIntervalMs,
            log: o.log.child({ subsystem: 'cluster-trust-bundle' }),
          }),
      );
    }
    return { server: s, tokenMode: mode, follower, store, leadership, ...(federation ? { federation } : {}), ...(bundleEndpoint ? { bundleEndpoint } : {}) };
  } catch (err) {
    await server?.shutdown().catch(() => {});
    await agents?.stop().catch(() => {});
    if (!server) await ledger?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}

/** Runs a bundle publisher (ConfigMaps, ClusterTrustBundle) on the leader only (a singleton job), starting and stopping it with leadership. */
function startPublisherWhileLeader(s: CaServer, leadership: Leadership, make: () => { start(): Promise<unknown>; stop(): Promise<void> }): void {
  let publisher: { start(): Promise<unknown>; stop(): Promise<void> } | undefined;
  const follow = (leader: boolean) => {
    if (leader && !publisher) {
      publisher = make();
      // Never rejects and does not wait for the Kubernetes API: the CA serves meanwhile.
      void publisher.start();
    } else if (!leader && publisher) {
      void publisher.stop();
      publisher = undefined;
    }
  };
  const unsubscribe = leadership.subscribe(follow);
  follow(leadership.isLeader());
  s.addBackground({
    stop: async () => {
      unsubscribe();
      await publisher?.stop();
    },
  });
}

/** Where the ledger records go: PostgreSQL, a SQLite file, or `<CA dir>/ledger.db`. */
function ledgerLocation(config: ResolvedCaConfig, store: CaStore): LedgerStoreLocation {
  const c = config.ledger;
  if (c.url) return { databaseUrl: c.url };
  if (c.path) return { sqliteFile: c.path };
  if (store.dir !== undefined) return { dir: store.dir };
  throw caError(
    'ERR_CONFIG',
    `config: ${store.location} is not a directory: set ledger.url (PostgreSQL, for several replicas) or ledger.path (SQLite on a persistent volume, one replica)`,
  );
}

/** Opens the configured ledger (docs/architecture.md §7), or none when `ledger.enabled` is false (benchmarks only). */
async function startLedger(
  o: StartCaServerOptions,
  config: ResolvedCaConfig,
  store: CaStore,
  genesis: string | undefined,
  authority: () => SigningAuthority,
): Promise<Ledger | undefined> {
  const c = config.ledger;
  if (!c.enabled) {
    o.log.warn('ledger.enabled is false: issuances and refusals are NOT recorded; never run a production CA like this');
    return undefined;
  }
  const ledger = await openLedger({
    ...ledgerLocation(config, store),
    witness: store.witness,
    ...(genesis !== undefined ? { genesis } : {}),
    authority,
    synchronous: c.sqliteSynchronous,
    checkpointEvery: c.checkpointEvery,
    checkpointIntervalMs: c.checkpointIntervalMs,
    ...(o.now ? { now: o.now } : {}),
    log: o.log,
  });
  o.log.info({ ledger: ledger.location }, 'issuance ledger open');
  return ledger;
}

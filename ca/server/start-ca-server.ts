import { readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import {
  authorizeCaller,
  ClientCertificateAuthenticator,
  JwksAuthenticator,
  kubernetesPodLookup,
  TokenReviewAuthenticator,
  type Authenticator,
  type IdentityPolicy,
  type TrustDomain,
} from '../../workload-identity/index.js';
import { loadCa } from '../ca-directory.js';
import type { SigningAuthority } from '../issuer.js';
import { loadDevTokenIssuer } from '../dev-token-issuer.js';
import { caError } from '../errors.js';
import { openLedger, openLedgerStore, type Ledger } from '../ledger/index.js';
import { flushPendingRecords } from '../authority-rotation.js';
import { AgentTracker } from './agent-tracker.js';
import { CaServer } from './ca-server.js';
import { BundleConfigMapPublisher } from './bundle-configmaps.js';
import { DirectoryFollower } from './directory-follower.js';
import { RootAdmin } from './root-admin.js';
import { DEFAULT_INTERMEDIATE_ROTATE_AT } from './rotation-status.js';
import { bundleConfigMaps, type CaServerConfig } from './config.js';

export interface StartCaServerOptions {
  readonly dir: string;
  /** The validated configuration (`{}` for all defaults). */
  readonly config: CaServerConfig;
  /**
   * Trust the CA directory's local dev token issuer when no token authenticator is configured: the
   * embedded default, used when the CA starts without a config file.
   */
  readonly devIssuer?: boolean;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** How the CA authenticates token callers, for the start-up log and the CLI. */
export type TokenMode = 'dev-issuer' | 'jwks' | 'tokenreview' | 'none';

async function loadKubeConfig(file: string | undefined) {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromCluster();
  } catch (cause) {
    throw caError('ERR_CONFIG', `config: cannot load ${file ? `kubeconfig ${file}` : 'the in-cluster Kubernetes configuration'}: ${(cause as Error).message}`, { cause });
  }
  return kc;
}

async function tokenAuthenticator(td: TrustDomain, o: StartCaServerOptions): Promise<{ mode: TokenMode; authenticator?: Authenticator }> {
  const auth = o.config.authentication;
  const extra = o.config.istioCompat ? ['istio-ca'] : [];
  const now = o.now ? { now: o.now } : {};
  if (auth?.jwks) {
    const j = auth.jwks;
    const ca = j.caFile ? await fs.readFile(j.caFile) : undefined;
    const bearer = j.bearerTokenFile;
    return {
      mode: 'jwks',
      authenticator: new JwksAuthenticator({
        trustDomain: td,
        issuer: j.issuer,
        audiences: [...(j.audiences ?? ['castellan']), ...extra],
        discovery: {
          ...(j.discoveryUrl ? { discoveryUrl: j.discoveryUrl } : {}),
          ...(ca ? { ca } : {}),
          // Projected tokens rotate on disk: read the file at each discovery.
          ...(bearer ? { bearerToken: () => readFileSync(bearer, 'utf8').trim() } : {}),
        },
        ...(j.requirePodBinding ? { requirePodBinding: true, podLookup: kubernetesPodLookup(await loadKubeConfig(j.kubeconfig)) } : {}),
        ...now,
      }),
    };
  }
  if (auth?.tokenReview) {
    const t = auth.tokenReview;
    return {
      mode: 'tokenreview',
      authenticator: new TokenReviewAuthenticator(await loadKubeConfig(t.kubeconfig), {
        trustDomain: td,
        audiences: [...(t.audiences ?? ['castellan']), ...extra],
        ...(t.cacheTtl !== undefined ? { cacheTtlMs: t.cacheTtl } : {}),
        ...now,
      }),
    };
  }
  if (o.devIssuer || auth?.devIssuer) {
    const dev = await loadDevTokenIssuer(o.dir);
    return {
      mode: 'dev-issuer',
      authenticator: new JwksAuthenticator({ trustDomain: td, issuer: dev.issuer, audiences: ['castellan', ...extra], jwks: dev.jwks, ...now }),
    };
  }
  return { mode: 'none' };
}

/**
 * Builds and starts a CA server from a CA directory and a configuration: the composition root shared
 * by `castellan ca serve`, the tests and the benchmarks.
 *
 * @example const { server } = await startCaServer({ dir: '.castellan', config: {}, devIssuer: true, log });
 */
export async function startCaServer(o: StartCaServerOptions): Promise<{ server: CaServer; tokenMode: TokenMode; follower: DirectoryFollower }> {
  const ca = await loadCa(o.dir);
  const { mode, authenticator } = await tokenAuthenticator(ca.trustDomain, o);
  // zod leaves absent keys out, which is what IdentityPolicy's optional fields mean.
  const policy = (o.config.policy ?? {}) as IdentityPolicy;
  if (mode === 'dev-issuer' && o.config.authentication?.devIssuer) {
    o.log.warn(
      { listen: o.config.listen ?? '127.0.0.1:15012' },
      'authentication.devIssuer is true: trusting the local dev token issuer (castellan token mint). NOT FOR PRODUCTION: anyone who can read the dev issuer key can obtain any identity from this CA',
    );
  } else if (mode === 'dev-issuer') {
    const host = (o.config.listen ?? '127.0.0.1:15012').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
    o.log.warn(
      { listen: o.config.listen ?? '127.0.0.1:15012' },
      loopback
        ? 'no config file: trusting the local dev token issuer (castellan token mint); use a config for a cluster'
        : 'no config file and a non-loopback listen address: anyone who can read the dev issuer key can obtain any identity from this CA',
    );
  }
  if (mode === 'none') o.log.warn('no token authenticator configured: only renewal by client certificate is possible');
  // A bad kubeconfig fails the start before anything listens.
  const cms = o.config.distribution?.configMaps;
  const configMapsKube = cms?.enabled ? await loadKubeConfig(cms.kubeconfig) : undefined;
  let server: CaServer | undefined;
  // Checkpoints are signed by the intermediate that issues now (it rotates under the server).
  const ledger = await startLedger(o, () => server?.activeAuthority ?? ca.active);
  const now = o.now ?? (() => new Date());
  const rotation = o.config.rotation ?? {};
  const agents = new AgentTracker({
    dir: o.dir,
    replicaId: o.config.replicaId ?? hostname(),
    now,
    ...(rotation.agentLiveness !== undefined ? { livenessMs: rotation.agentLiveness } : {}),
    intermediateRotateAt: rotation.intermediateRotateAt ?? DEFAULT_INTERMEDIATE_ROTATE_AT,
    log: o.log,
  });
  let rootAdmin: RootAdmin;
  let follower: DirectoryFollower | undefined;
  try {
    // Lifecycle records a crashed `castellan root` left in ca.json go to the ledger before anything else.
    if (ledger && ca.pendingRecords.length > 0) await flushPendingRecords(o.dir, ledger);
    await agents.start();
    const c = o.config.ledger ?? {};
    rootAdmin = new RootAdmin({
      dir: o.dir,
      // ledger.enabled: false (benchmarks only) records nothing, lifecycle included.
      ledger: ledger ?? { appendLifecycle: async () => undefined },
      openStore: ledger ? () => openLedgerStore({ ...(c.url ? { databaseUrl: c.url } : { dir: o.dir }), readOnly: true }) : undefined,
      now,
      rotateAt: rotation.intermediateRotateAt ?? DEFAULT_INTERMEDIATE_ROTATE_AT,
      beforeAgents: () => agents.flush(),
      afterStep: () => follower?.tick() ?? Promise.resolve(),
    });
    server = await CaServer.start({
    agents,
    rootAdmin,
    ca,
    config: o.config,
    ...(authenticator ? { tokenAuthenticator: authenticator } : {}),
    clientCertificateAuthenticator: (bundle) => new ClientCertificateAuthenticator({ trustDomain: ca.trustDomain, bundle, ...(o.now ? { now: o.now } : {}) }),
    authorize: (caller) => authorizeCaller(policy, caller),
    log: o.log,
    ...(o.now ? { now: o.now } : {}),
    ...(ledger ? { ledger } : {}),
    });
  } catch (err) {
    await agents.stop().catch(() => {});
    await ledger?.close().catch(() => {});
    throw err;
  }
  const s = server;
  follower = new DirectoryFollower({
    dir: o.dir,
    intervalMs: rotation.reloadInterval ?? 2_000,
    current: () => s.directory,
    apply: (next) => s.applyDirectory(next),
    intermediateRotateAt: rotation.intermediateRotateAt ?? DEFAULT_INTERMEDIATE_ROTATE_AT,
    ...(rotation.intermediateTtl !== undefined ? { intermediateTtlMs: rotation.intermediateTtl } : {}),
    ...(ledger ? { ledger } : {}),
    now,
    log: o.log,
  });
  s.addBackground(follower);
  follower.start();
  for (const target of configMapsKube ? bundleConfigMaps(o.config) : []) {
    const publisher = new BundleConfigMapPublisher({
      kubeConfig: configMapsKube!,
      bundle: s.trustBundle,
      name: target.name,
      key: target.key,
      ...(cms?.excludeNamespaces ? { excludeNamespaces: cms.excludeNamespaces } : {}),
      ...(cms?.resyncInterval !== undefined ? { resyncMs: cms.resyncInterval } : {}),
      ...(o.now ? { now: o.now } : {}),
      log: o.log.child({ component: 'bundle-configmaps' }),
    });
    s.addBackground(publisher);
    // Never rejects and does not wait for the Kubernetes API: the CA serves meanwhile.
    void publisher.start();
  }
  return { server: s, tokenMode: mode, follower };
}

/** Opens the configured ledger (DESIGN §7), or none when `ledger.enabled` is false (benchmarks only). */
async function startLedger(o: StartCaServerOptions, authority: () => SigningAuthority): Promise<Ledger | undefined> {
  const c = o.config.ledger ?? {};
  if (c.enabled === false) {
    o.log.warn('ledger.enabled is false: issuances and refusals are NOT recorded; never run a production CA like this');
    return undefined;
  }
  const ledger = await openLedger({
    dir: o.dir,
    authority,
    ...(c.url ? { databaseUrl: c.url } : {}),
    ...(c.sqliteSynchronous ? { synchronous: c.sqliteSynchronous } : {}),
    ...(c.checkpointEvery !== undefined ? { checkpointEvery: c.checkpointEvery } : {}),
    ...(c.checkpointInterval !== undefined ? { checkpointIntervalMs: c.checkpointInterval } : {}),
    ...(o.now ? { now: o.now } : {}),
    log: o.log,
  });
  o.log.info({ ledger: ledger.location }, 'issuance ledger open');
  return ledger;
}

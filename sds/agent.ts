import { hostname } from 'node:os';
import { tokenSha256, type SpiffeId, type TrustBundle, type X509Svid } from '../workload-identity/index.js';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { systemClock, type AgentClock } from './agent-clock.js';
import { AgentMetrics } from './agent-metrics.js';
import type { BackoffOptions, RenewalOptions } from './backoff.js';
import { BundleFollower } from './bundle-follower.js';
import { BundleReporter } from './bundle-reporter.js';
import { CaClient } from './ca-client.js';
import { CaConnection } from './ca-connection.js';
import { JwtSvidCache } from './jwt-svid-cache.js';
import { ManagedIdentity } from './managed-identity.js';
import { NodeProvider, type NodeProviderOptions } from './node-provider.js';
import type { RotationEvent } from './rotation.js';
import type { BundleSet, SecretProvider, StreamCaller } from './secret-source.js';
import { agentStatusReport, type AgentStatusReport } from './agent-status.js';
import { SidecarProvider } from './sidecar-provider.js';
import { TokenFile, tokenExpiry } from './token-file.js';
import { TrustBundleState } from './trust-bundle-state.js';
import type { WorkloadKeyType } from './workload-key.js';
import { startWorkloadSocket, type WorkloadSocket } from './workload-socket.js';

export interface AgentOptions {
  /** CA gRPC address, `host:port`. */
  readonly caAddress: string;
  /** PEM roots that verify the CA's serving certificate. */
  readonly caBundlePem: string;
  /** DNS name expected in the CA's certificate; see CaClientOptions.serverName. */
  readonly caServerName?: string;
  /** Default sidecar. */
  readonly mode?: 'sidecar' | 'node';
  /** Sidecar: the pod's projected token (required). Node: the agent's own token, for WatchTrustBundle (optional). */
  readonly tokenFile?: string;
  /** Default ec-p256. */
  readonly keyType?: WorkloadKeyType;
  /** Requested certificate lifetime, ms. Default 24 h. */
  readonly ttlMs?: number;
  /** Default: renew at 50 % ± 10 % of the lifetime. */
  readonly renewal?: RenewalOptions;
  /** Default: 1 s doubling to 60 s, ±20 %. */
  readonly backoff?: BackoffOptions;
  /** Reported to the CA. Default: the host name. */
  readonly agentId?: string;
  /** Node mode: how long an unused identity is kept, ms. Default 300000. */
  readonly nodeIdleMs?: number;
  /** Node mode: bounds on concurrent token proofs and the refused-token memory (defaults suit production). */
  readonly nodeProofLimits?: NodeProviderOptions['proofLimits'];
  /** Node mode: a new stream is served without asking the CA again only this long after the CA last accepted its token, ms. Default 1000. */
  readonly nodeTokenRecheckMs?: number;
  /** Serve SDS and the Workload API on this Unix socket; absent: no socket (the caller serves `provider`). */
  readonly socketPath?: string;
  /** Prometheus registry for the agent's (and the socket's) metrics. Default: a new one. */
  readonly registry?: Registry;
  readonly clock?: AgentClock;
  readonly random?: () => number;
  readonly log: Logger;
  /** Every certificate issued and every failed request (the dev command prints them). */
  readonly onEvent?: (e: RotationEvent) => void;
  /** grpc-js options of the CA channel (tests shorten its reconnect backoff). */
  readonly caChannelOptions?: Record<string, string | number>;
}

/** A running agent's identity side: what the SDS and Workload API servers serve from. */
export interface Agent {
  readonly mode: 'sidecar' | 'node';
  readonly provider: SecretProvider;
  readonly registry: Registry;
  readonly metrics: AgentMetrics;
  /** The workload socket, when `socketPath` was given. */
  readonly socket: WorkloadSocket | undefined;
  /** The newest trust bundle of the agent's own trust domain. */
  trustBundle(): TrustBundle | undefined;
  /** The newest bundles the agent trusts: its own trust domain's and the federated ones. */
  trustedBundles(): BundleSet | undefined;
  /** Certificates served now. */
  certificates(): { id: SpiffeId; serialHex: string; notAfter: Date }[];
  /** Why the agent cannot serve now, or undefined when it can (for /readyz). */
  notReadyReason(): string | undefined;
  /** Problems that do not stop serving what it holds (for /readyz): a configuration that keeps it from the CA. */
  notes(): string[];
  close(): Promise<void>;
}

/**
 * Starts the agent's identity side (docs/architecture.md §5): the CA client, the trust-bundle follower, and either
 * the pod's identity (sidecar: requested at once with the token file) or the per-token identities of
 * node mode; with `socketPath`, also the SDS / Workload API socket serving them.
 *
 * @example
 *   const agent = await startAgent({ caAddress: 'ca:15012', caBundlePem, tokenFile: '/var/run/secrets/tokens/castellan', socketPath: '/var/run/castellan/sds.sock', log });
 *   // ... on SIGTERM
 *   await agent.close();
 */
export async function startAgent(o: AgentOptions): Promise<Agent> {
  const mode = o.mode ?? 'sidecar';
  const clock = o.clock ?? systemClock;
  const agentId = o.agentId ?? hostname();
  // pino appends child bindings to the parent's without replacing a key: bind `component` only when the
  // caller's logger does not carry one already (`castellan agent` does), or every line holds it twice.
  const log = 'component' in o.log.bindings() ? o.log : o.log.child({ component: 'castellan-agent' });
  if (mode === 'sidecar' && !o.tokenFile) throw new TypeError('startAgent: sidecar mode needs tokenFile');
  const tokenFile = o.tokenFile ? new TokenFile(o.tokenFile) : undefined;
  const registry = o.registry ?? new Registry();
  const bundles = new TrustBundleState();
  const connection = new CaConnection(log);
  const client = new CaClient({
    address: o.caAddress,
    caBundlePem: o.caBundlePem,
    ...(o.caServerName ? { serverName: o.caServerName } : {}),
    ...(o.caChannelOptions ? { channelOptions: o.caChannelOptions } : {}),
    onConnection: (p) => connection.update(p),
  });
  // After a root rotation the CA's own certificate may chain to a root only the bundle stream announced.
  bundles.subscribe((b) => client.setTrustedRoots(o.caBundlePem + b.own.rootsPem));

  const rotation = {
    keyType: o.keyType ?? 'ec-p256',
    ttlMs: o.ttlMs ?? 24 * 3_600_000,
    ...(o.renewal ? { renewal: o.renewal } : {}),
    ...(o.backoff ? { backoff: o.backoff } : {}),
    ...(o.random ? { random: o.random } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  };
  let served: () => ManagedIdentity[] = () => [];
  const metrics = new AgentMetrics(
    registry,
    () => served().flatMap((m) => (m.rotation.current ? [m.rotation.current] : [])),
    () => clock.now(),
    () => bundles.own?.sequence,
  );
  connection.attach(metrics);

  let provider: SecretProvider;
  let sidecar: ManagedIdentity | undefined;
  let node: NodeProvider | undefined;
  if (mode === 'sidecar') {
    sidecar = new ManagedIdentity(bundles, {
      ...rotation,
      metrics,
      clock,
      log,
      sign: async (csrDer, ttlSeconds) => {
        // Read on every request: the kubelet rotates projected tokens.
        const token = await tokenFile!.read();
        log.debug({ tokenSha256: tokenSha256(token) }, 'requesting a certificate');
        return client.sign({ csrDer, ttlSeconds, bundleSequence: bundles.own?.sequence ?? 0, agentId, token });
      },
    });
    const one = sidecar;
    served = () => [one];
    provider = new SidecarProvider(sidecar, {
      cache: new JwtSvidCache(clock),
      // The pod's own token, read at each request: the CA derives `sub` from it (docs/jwt-svid.md).
      sign: async (audience) => client.signJwtSvid({ token: await tokenFile!.read(), audience, agentId }),
    });
    sidecar.rotation.start();
  } else {
    node = new NodeProvider({
      client: () => client,
      bundles,
      agentId,
      rotation: { ...rotation, metrics },
      clock,
      ...(o.nodeIdleMs !== undefined ? { idleMs: o.nodeIdleMs } : {}),
      ...(o.nodeProofLimits !== undefined ? { proofLimits: o.nodeProofLimits } : {}),
      ...(o.nodeTokenRecheckMs !== undefined ? { tokenRecheckMs: o.nodeTokenRecheckMs } : {}),
      metrics,
      log,
      onTokenAccepted: () => follower.kick(),
    });
    const n = node;
    served = () => [...n.served];
    provider = node;
  }

  // The agent's own credential for its calls about the bundle (stream and report).
  const ownToken = async () => (tokenFile ? tokenFile.read() : node?.anyValidToken());
  // Node mode without a token file borrows a pod's token: reports use the one the bundle stream was
  // opened with while it is valid and not refused since, so the CA sees one agent (identity + agent
  // id), not one per pod.
  let streamToken: string | undefined;
  const streamOwnToken = async () => (streamToken = await ownToken());
  const reportToken = async () => {
    if (!tokenFile && streamToken !== undefined && (tokenExpiry(streamToken)?.getTime() ?? 0) > clock.now().getTime() && node?.holds(streamToken)) return streamToken;
    return ownToken();
  };
  const reporter = new BundleReporter({
    client: () => client,
    token: reportToken,
    agentId,
    clock,
    ...(o.backoff ? { backoff: o.backoff } : {}),
    ...(o.random ? { random: o.random } : {}),
    log,
  });
  // Every identity has pushed the new bundle (ROOTCA, Workload API bundles) when this runs (docs/architecture.md §6).
  bundles.onApplied((b) => reporter.report(b.own.sequence));
  const follower = new BundleFollower({
    client: () => client,
    token: streamOwnToken,
    agentId,
    onBundle: (m, first) => {
      const b = m.bundles;
      if (bundles.offer(b, 'stream')) {
        metrics.bundleUpdates.inc();
        log.info({ trustDomain: b.own.trustDomain.name, sequence: b.own.sequence, roots: b.own.roots.length, activeIssuerKeyId: m.activeIssuerKeyId || undefined }, 'trust bundle updated');
      }
      // After the bundle (ROOTCA before any leaf of the new issuer): the CA's paced re-issue request.
      bundles.setReissue(m.activeIssuerKeyId !== '' && m.reissueSpreadSeconds > 0 ? { activeIssuerKeyId: m.activeIssuerKeyId, spreadSeconds: m.reissueSpreadSeconds } : undefined);
      // A new stream may reach a restarted or upgraded CA: tell it what this agent serves.
      if (first) reporter.reconnected(bundles.own?.sequence ?? b.own.sequence);
    },
    clock,
    ...(o.backoff ? { backoff: o.backoff } : {}),
    ...(o.random ? { random: o.random } : {}),
    metrics,
    log,
  });
  follower.start();
  let closed = false;
  const notes = (): string[] => {
    const c = connection.current;
    // Said once: when it is already why the agent is not ready, it is no separate note.
    return c && !(notReadyReason() ?? '').includes(c.message) ? [c.message] : [];
  };
  const notReadyReason = (): string | undefined => {
    if (closed) return 'shutting down';
    if (!sidecar) return undefined;
    const svid = sidecar.rotation.current;
    if (!svid) return `no certificate yet${sidecar.rotation.lastError ? `: ${sidecar.rotation.lastError.message}` : ''}`;
    if (svid.notAfter.getTime() <= clock.now().getTime()) return 'the certificate expired and renewal keeps failing';
    return undefined;
  };
  // `castellan agent status` (docs/agent.md): node mode shows only the identity the caller's token already holds here.
  const status = (caller: StreamCaller): AgentStatusReport => {
    const held = node && caller.token !== undefined ? node.heldFor(caller.token) : undefined;
    const svids = sidecar ? [sidecar.rotation.current] : held ? [held.rotation.current] : [];
    return agentStatusReport({
      mode,
      agentId,
      ca: o.caAddress,
      notReady: notReadyReason(),
      notes: notes(),
      bundle: bundles.own,
      shown: sidecar ? 'all' : caller.token !== undefined ? 'token' : 'none',
      ...(node ? { held: node.served.length } : {}),
      svids: svids.filter((s): s is X509Svid => s !== undefined),
    });
  };
  let socket: WorkloadSocket | undefined;
  try {
    if (o.socketPath) socket = await startWorkloadSocket({ socketPath: o.socketPath, provider, log, registry, mode, status: async (caller) => status(caller) });
  } catch (err) {
    follower.stop();
    reporter.stop();
    sidecar?.stop();
    node?.close();
    client.close();
    throw err;
  }
  log.info({ mode, ca: o.caAddress, socket: o.socketPath, agentId, keyType: rotation.keyType, ttlMs: rotation.ttlMs }, 'castellan agent started');

  return {
    mode,
    provider,
    registry,
    socket,
    metrics,
    trustBundle: () => bundles.own,
    trustedBundles: () => bundles.current,
    certificates: () => served().flatMap((m) => (m.rotation.current ? [{ id: m.rotation.current.id, serialHex: m.rotation.current.serialHex, notAfter: m.rotation.current.notAfter }] : [])),
    notReadyReason,
    notes,
    close: async () => {
      if (closed) return;
      closed = true;
      // Streams end first (status OK, Envoy reconnects to the next agent); then the CA side stops.
      await socket?.close();
      follower.stop();
      reporter.stop();
      sidecar?.stop();
      node?.close();
      client.close();
      log.info('castellan agent stopped');
    },
  };
}

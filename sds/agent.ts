import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { CastellanError, tokenSha256, type SpiffeId, type TrustBundle, type X509Svid } from '../workload-identity/index.js';
import { Registry } from 'prom-client';
import { systemClock, type AgentClock } from './agent-clock.js';
import { AgentMetrics } from './agent-metrics.js';
import type { AgentOptions } from './agent-options.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { BundleFollower } from './bundle-follower.js';
import { BundleReporter } from './bundle-reporter.js';
import { CaClient, type TrustBundleMessage } from './ca-client.js';
import { CaConnection } from './ca-connection.js';
import { JwtSvidCache } from './jwt-svid-cache.js';
import { ManagedIdentity } from './managed-identity.js';
import { NodeProvider } from './node-provider.js';
import type { RotationOptions } from './rotation.js';
import type { BundleSet, SecretProvider, StreamCaller } from './secret-source.js';
import { agentStatusReport, type AgentStatusReport } from './agent-status.js';
import { SidecarProvider } from './sidecar-provider.js';
import { TokenFile, tokenExpiry } from './token-file.js';
import { TrustBundleState } from './trust-bundle-state.js';
import { RequestedTtl } from './ttl-cap.js';
import { startWorkloadSocket, type WorkloadSocket } from './workload-socket.js';

export type { AgentOptions };

/** Where the agent is in its life: `close()` may come at any point, even while it starts. */
type Phase = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** What every identity's rotation shares (node mode adds its metrics per identity). */
type SharedRotation = Pick<RotationOptions, 'keyType' | 'ttl' | 'renewal' | 'backoff' | 'random' | 'onEvent'>;

/**
 * A running agent's identity side (docs/architecture.md §5), what the SDS and Workload API servers serve
 * from: the CA client, the trust-bundle follower and reporter, and either the pod's one identity
 * (sidecar) or the per-token identities of node mode; with `socketPath`, also the workload socket.
 * `close()` is its one way down, whenever it is called.
 *
 * @example
 *   const agent = new Agent({ caAddress, caBundlePem, tokenFile, socketPath, log });
 *   await agent.start();
 *   // ... on SIGTERM
 *   await agent.close();
 */
export class Agent {
  readonly mode: 'sidecar' | 'node';
  readonly agentId: string;
  readonly registry: Registry;
  readonly metrics: AgentMetrics;
  /** Who gets which identity: the pod's (sidecar) or the one each stream's token proves (node). */
  readonly provider: SecretProvider;

  private readonly log: Logger;
  private readonly clock: AgentClock;
  /** Sidecar: the pod's projected token. Node: the agent's own, when it has one. */
  private readonly tokenFile: TokenFile | undefined;
  /** The newest trust bundles, shared by every identity. */
  private readonly bundles = new TrustBundleState();
  /** The lifetime every identity asks for (lowered once to the CA's maximum if the CA refuses it). */
  private readonly ttl: RequestedTtl;
  /** Whether the agent's configuration keeps it from the CA (for /readyz and a metric). */
  private readonly connection: CaConnection;
  private readonly client: CaClient;
  /** Sidecar mode: the pod's identity and its rotation. */
  private readonly sidecar: ManagedIdentity | undefined;
  /** Node mode: the identities of the node's pods. */
  private readonly node: NodeProvider | undefined;
  /** Follows the CA's WatchTrustBundle stream. */
  private readonly follower: BundleFollower;
  /** Tells the CA which bundle sequence every workload now has. */
  private readonly reporter: BundleReporter;
  /** Node mode without a token file: the pod token the bundle stream was last opened with. */
  private streamToken: string | undefined;
  private workloadSocket: WorkloadSocket | undefined;
  /** The socket being opened by `start()`, which `close()` waits for. */
  private opening: Promise<WorkloadSocket | undefined> | undefined;
  private closing: Promise<void> | undefined;
  private phase: Phase = 'new';

  constructor(private readonly o: AgentOptions) {
    this.mode = o.mode ?? 'sidecar';
    if (this.mode === 'sidecar' && !o.tokenFile) throw new TypeError('startAgent: sidecar mode needs tokenFile');
    this.ttl = new RequestedTtl(o.ttlMs ?? 24 * 3_600_000);
    this.clock = o.clock ?? systemClock;
    this.agentId = o.agentId ?? hostname();
    // pino appends child bindings to the parent's without replacing a key: bind `component` only when the
    // caller's logger does not carry one already (`castellan agent` does), or every line holds it twice.
    this.log = 'component' in o.log.bindings() ? o.log : o.log.child({ component: 'castellan-agent' });
    this.tokenFile = o.tokenFile ? new TokenFile(o.tokenFile) : undefined;
    this.registry = o.registry ?? new Registry();
    // Confirmed when it still fails after the shortest first retry delay (initial less its jitter).
    const backoff = { ...DEFAULT_BACKOFF, ...o.backoff };
    this.connection = new CaConnection(this.log, { confirmAfterMs: backoff.initialMs * (1 - backoff.jitter) });
    this.client = new CaClient({
      address: o.caAddress,
      caBundlePem: o.caBundlePem,
      ...(o.caServerName ? { serverName: o.caServerName } : {}),
      ...(o.caChannelOptions ? { channelOptions: o.caChannelOptions } : {}),
      onConnection: (p) => this.connection.update(p),
    });
    // After a root rotation the CA's own certificate may chain to a root only the bundle stream announced.
    this.bundles.subscribe((b) => this.client.setTrustedRoots(o.caBundlePem + b.own.rootsPem));
    this.metrics = new AgentMetrics(
      this.registry,
      () => this.served().flatMap((m) => (m.rotation.current ? [m.rotation.current] : [])),
      () => this.clock.now(),
      () => this.bundles.own?.sequence,
    );
    this.connection.attach(this.metrics);
    if (this.mode === 'sidecar') {
      this.sidecar = this.podIdentity();
      this.provider = new SidecarProvider(this.sidecar, {
        cache: new JwtSvidCache(this.clock),
        // The pod's own token, read at each request: the CA derives `sub` from it (docs/jwt-svid.md).
        sign: async (audience) => this.client.signJwtSvid({ token: await this.tokenFile!.read(), audience, agentId: this.agentId }),
      });
    } else {
      this.node = this.nodeIdentities();
      this.provider = this.node;
    }
    this.reporter = new BundleReporter({ client: () => this.client, token: () => this.reportToken(), agentId: this.agentId, clock: this.clock, ...this.retry(), log: this.log });
    // Every identity has pushed the new bundle (ROOTCA, Workload API bundles) when this runs (docs/architecture.md §6).
    this.bundles.onApplied((b) => this.reporter.report(b.own.sequence));
    this.follower = new BundleFollower({
      client: () => this.client,
      token: async () => (this.streamToken = await this.ownToken()),
      agentId: this.agentId,
      onBundle: (m, first) => this.bundleMessage(m, first),
      clock: this.clock,
      ...this.retry(),
      metrics: this.metrics,
      log: this.log,
    });
  }

  /**
   * Asks for the pod's certificate (sidecar), follows the CA's bundle stream and, with `socketPath`,
   * opens the workload socket. Rejects when the socket cannot be opened (everything started is stopped
   * again) and with ERR_NOT_READY when `close()` came first.
   */
  async start(): Promise<void> {
    if (this.closing) throw new CastellanError('ERR_NOT_READY', 'sds: the agent was closed before it started');
    if (this.phase !== 'new') throw new TypeError('Agent.start: an agent starts once');
    this.phase = 'starting';
    this.sidecar?.rotation.start();
    this.follower.start();
    try {
      this.opening = this.openSocket();
      const socket = await this.opening;
      if (this.closing) throw new CastellanError('ERR_NOT_READY', 'sds: the agent was closed while it started');
      this.workloadSocket = socket;
    } catch (err) {
      await this.close();
      throw err;
    }
    this.phase = 'running';
    this.log.info(
      { mode: this.mode, ca: this.o.caAddress, socket: this.o.socketPath, agentId: this.agentId, keyType: this.sharedRotation().keyType, ttlMs: this.ttl.configuredMs },
      'castellan agent started',
    );
  }

  /**
   * Stops the agent, once, whenever it is called (also while it starts): open streams end first
   * (status OK: Envoy reconnects to the next agent), then the socket file goes, then the CA side stops
   * (bundle stream, reports, renewals, the CA channel). Every call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** The workload socket, when `socketPath` was given (undefined until started). */
  get socket(): WorkloadSocket | undefined {
    return this.workloadSocket;
  }

  /** The newest trust bundle of the agent's own trust domain. */
  trustBundle(): TrustBundle | undefined {
    return this.bundles.own;
  }

  /** The newest bundles the agent trusts: its own trust domain's and the federated ones. */
  trustedBundles(): BundleSet | undefined {
    return this.bundles.current;
  }

  /** Certificates served now. */
  certificates(): { id: SpiffeId; serialHex: string; notAfter: Date }[] {
    return this.served().flatMap((m) =>
      m.rotation.current ? [{ id: m.rotation.current.id, serialHex: m.rotation.current.serialHex, notAfter: m.rotation.current.notAfter }] : [],
    );
  }

  /** Why the agent cannot serve now, or undefined when it can (for /readyz). */
  notReadyReason(): string | undefined {
    if (this.phase === 'closing' || this.phase === 'closed') return 'shutting down';
    if (!this.sidecar) return undefined;
    const svid = this.sidecar.rotation.current;
    if (!svid) return `no certificate yet${this.sidecar.rotation.lastError ? `: ${this.sidecar.rotation.lastError.message}` : ''}`;
    if (svid.notAfter.getTime() <= this.clock.now().getTime()) return 'the certificate expired and renewal keeps failing';
    return undefined;
  }

  /** Problems that do not stop serving what it holds (for /readyz): a configuration that keeps it from the CA. */
  notes(): string[] {
    const c = this.connection.current;
    // Said once: when it is already why the agent is not ready, it is no separate note.
    return c && !(this.notReadyReason() ?? '').includes(c.message) ? [c.message] : [];
  }

  private async shutDown(): Promise<void> {
    this.phase = 'closing';
    // Streams end first (status OK, Envoy reconnects to the next agent); then the CA side stops.
    const socket = this.workloadSocket ?? (await this.opening?.catch(() => undefined));
    await socket?.close();
    this.follower.stop();
    this.reporter.stop();
    this.sidecar?.stop();
    this.node?.close();
    this.client.close();
    this.phase = 'closed';
    this.log.info('castellan agent stopped');
  }

  private async openSocket(): Promise<WorkloadSocket | undefined> {
    if (!this.o.socketPath) return undefined;
    return startWorkloadSocket({
      socketPath: this.o.socketPath,
      provider: this.provider,
      log: this.log,
      registry: this.registry,
      mode: this.mode,
      status: async (caller) => this.status(caller),
    });
  }

  /** The identities whose certificates are served now. */
  private served(): readonly ManagedIdentity[] {
    if (this.sidecar) return [this.sidecar];
    return this.node?.served ?? [];
  }

  private sharedRotation(): SharedRotation {
    const o = this.o;
    return {
      keyType: o.keyType ?? 'ec-p256',
      ttl: this.ttl,
      ...(o.renewal ? { renewal: o.renewal } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      ...(o.random ? { random: o.random } : {}),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    };
  }

  /** The retry settings of the bundle stream and the reports. */
  private retry(): { backoff?: BackoffOptions; random?: () => number } {
    return { ...(this.o.backoff ? { backoff: this.o.backoff } : {}), ...(this.o.random ? { random: this.o.random } : {}) };
  }

  /** Sidecar mode: the pod's identity, requested with its projected token file. */
  private podIdentity(): ManagedIdentity {
    return new ManagedIdentity(this.bundles, {
      ...this.sharedRotation(),
      metrics: this.metrics,
      clock: this.clock,
      log: this.log,
      sign: async (csrDer, ttlSeconds) => {
        // Read on every request: the kubelet rotates projected tokens.
        const token = await this.tokenFile!.read();
        this.log.debug({ tokenSha256: tokenSha256(token) }, 'requesting a certificate');
        return this.client.sign({ csrDer, ttlSeconds, bundleSequence: this.bundles.own?.sequence ?? 0, agentId: this.agentId, token });
      },
    });
  }

  /** Node mode: one identity per pod token the CA accepts. */
  private nodeIdentities(): NodeProvider {
    const o = this.o;
    return new NodeProvider({
      client: () => this.client,
      bundles: this.bundles,
      agentId: this.agentId,
      rotation: { ...this.sharedRotation(), metrics: this.metrics },
      clock: this.clock,
      ...(o.nodeIdleMs !== undefined ? { idleMs: o.nodeIdleMs } : {}),
      ...(o.nodeProofLimits !== undefined ? { proofLimits: o.nodeProofLimits } : {}),
      ...(o.nodeTokenRecheckMs !== undefined ? { tokenRecheckMs: o.nodeTokenRecheckMs } : {}),
      metrics: this.metrics,
      log: this.log,
      onTokenAccepted: () => this.follower.kick(),
    });
  }

  /** The agent's own credential for its calls about the bundle (stream and report). */
  private async ownToken(): Promise<string | undefined> {
    return this.tokenFile ? this.tokenFile.read() : this.node?.anyValidToken();
  }

  /**
   * Node mode without a token file borrows a pod's token: reports use the one the bundle stream was
   * opened with while it is valid and not refused since, so the CA sees one agent (identity + agent
   * id), not one per pod.
   */
  private async reportToken(): Promise<string | undefined> {
    const t = this.streamToken;
    if (!this.tokenFile && t !== undefined && (tokenExpiry(t)?.getTime() ?? 0) > this.clock.now().getTime() && this.node?.holds(t)) return t;
    return this.ownToken();
  }

  /** One WatchTrustBundle message: the bundles, then the CA's paced re-issue request. */
  private bundleMessage(m: TrustBundleMessage, first: boolean): void {
    const b = m.bundles;
    if (this.bundles.offer(b, 'stream')) {
      this.metrics.bundleUpdates.inc();
      this.log.info(
        { trustDomain: b.own.trustDomain.name, sequence: b.own.sequence, roots: b.own.roots.length, activeIssuerKeyId: m.activeIssuerKeyId || undefined },
        'trust bundle updated',
      );
    }
    // After the bundle (ROOTCA before any leaf of the new issuer): the CA's paced re-issue request.
    this.bundles.setReissue(
      m.activeIssuerKeyId !== '' && m.reissueSpreadSeconds > 0 ? { activeIssuerKeyId: m.activeIssuerKeyId, spreadSeconds: m.reissueSpreadSeconds } : undefined,
    );
    // A new stream may reach a restarted or upgraded CA: tell it what this agent serves.
    if (first) this.reporter.reconnected(this.bundles.own?.sequence ?? b.own.sequence);
  }

  // `castellan agent status` (docs/agent.md): node mode shows only the identity the caller's token already holds here.
  private status(caller: StreamCaller): AgentStatusReport {
    const held = this.node && caller.token !== undefined ? this.node.heldFor(caller.token) : undefined;
    const svids = this.sidecar ? [this.sidecar.rotation.current] : held ? [held.rotation.current] : [];
    return agentStatusReport({
      mode: this.mode,
      agentId: this.agentId,
      ca: this.o.caAddress,
      notReady: this.notReadyReason(),
      notes: this.notes(),
      bundle: this.bundles.own,
      shown: this.sidecar ? 'all' : caller.token !== undefined ? 'token' : 'none',
      ...(this.node ? { held: this.node.served.length } : {}),
      svids: svids.filter((s): s is X509Svid => s !== undefined),
    });
  }
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
  const agent = new Agent(o);
  await agent.start();
  return agent;
}

import { Server, type Metadata, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CaV1, IstioV1Auth, PreEncodedHandlers } from '../../proto-types/index.js';
import {
  bearerToken,
  parseHostPort,
  SpiffeId,
  startHealthEndpoints,
  type AuthenticatedCaller,
  type Authenticator,
  type CallerCredentials,
  type HealthEndpoints,
} from '../../workload-identity/index.js';
import type { CaDirectory, LoadedAuthority } from '../load-ca.js';
import { caError } from '../errors.js';
import { Issuer, type SigningAuthority } from '../issuer.js';
import { autoSigningWorkers, SigningWorkers } from '../signing-workers.js';
import type { Ledger, LedgerHealth } from '../ledger/index.js';
import { caHealthMessage, rootStatusMessage } from './admin-messages.js';
import { caHealth, type CaHealth } from './ca-health.js';
import { serverStreamMethod, unaryMethod, type CallAdapterContext, type UnaryOptions } from './call-adapter.js';
import type { ResolvedCaConfig } from './ca-config.js';
import { IssuanceService, peerIp, tokenHash, type AuthorizeCaller } from './issuance-service.js';
import { CaMetrics } from './metrics.js';
import { caProtos, type CaProtos } from './protos.js';
import { RateLimiter } from './rate-limiter.js';
import { ServingIdentity } from './serving-identity.js';
import { TrustBundleSource, type TrustBundleSnapshot } from './trust-bundle-source.js';
import { AgentTracker } from './agent-tracker.js';
import { ConnectionGuard } from './connection-guard.js';
import { StreamSlots } from './stream-slots.js';
import { ChainResponseEncoder, withPreEncodedResponses } from './chain-response.js';
import { parseKeyType } from '../key-type.js';
import { derToPem } from '../pem.js';
import type { RootAdmin, RootStepOutcome } from './root-admin.js';
import { JwtSvidIssuer } from '../jwt-svid-issuer.js';
import { publishedJwtAuthorities } from '../jwt-authorities.js';
import { storedFederatedBundles } from '../federation/index.js';
import { JwtSvidService } from './jwt-svid-service.js';
import type { JwtAuthority, SpiffeBundle } from '../../workload-identity/index.js';

export interface CaServerOptions {
  readonly ca: CaDirectory;
  /** The resolved configuration (resolveCaConfig): every default filled in. */
  readonly config: ResolvedCaConfig;
  readonly tokenAuthenticator?: Authenticator;
  /** Built by the server from its trust bundle when absent and `authentication.clientCertificate` is not false. */
  readonly clientCertificateAuthenticator?: (bundleDer: () => readonly Uint8Array[]) => Authenticator;
  readonly authorize: AuthorizeCaller;
  readonly log: Logger;
  readonly now?: () => Date;
  /** The issuance ledger; the server closes it (flushing it) at the end of `shutdown`. Absent: nothing is recorded. */
  readonly ledger?: Ledger;
  /** Where agent reports go (docs/architecture.md §6); default: memory only. */
  readonly agents?: AgentTracker;
  /** Root rotation for operators (`castellan root --server`); absent: the RootAdmin service answers UNIMPLEMENTED. */
  readonly rootAdmin?: RootAdmin;
  /** Problems that do not stop serving (the store cannot be watched, the lease is lost): listed by /readyz. */
  readonly notes?: () => readonly string[];
  /** What GetHealth adds to the server's own view: the replica's name and leadership, the ledger's anchors checked now. */
  readonly health?: () => Promise<{ replica: string; leader: boolean; ledgerAnchors?: LedgerHealth }>;
}

/** Server keepalive pings: a peer that vanished (its TCP connection half-open) is found and its streams end. */
const KEEPALIVE = { timeMs: 300_000, timeoutMs: 20_000 };

/** What the CA reads off any call to authenticate its caller. */
type CallWithCredentials = { metadata: Metadata; getPeer(): string; getAuthContext?(): { sslPeerCertificate?: { raw: Buffer } } | null };

/** A WatchTrustBundle call. */
/** WatchTrustBundle writes the bytes encodedTrustBundle made once per snapshot (withPreEncodedResponses). */
type TrustBundleStream = ServerWritableStream<CaV1.WatchTrustBundleRequest__Output, Buffer>;

/** Credentials of a gRPC call: the bearer token and, when TLS verified one, the client certificate. */
function credentialsOf(call: CallWithCredentials, extraChain: () => readonly Uint8Array[]): CallerCredentials {
  const auth = call.metadata.get('authorization')[0];
  let token: string | undefined;
  if (auth !== undefined) {
    const value = String(auth).trim();
    // RFC 6750 §2.1 (bearerToken). An empty header is no credential (a client certificate may still be);
    // another scheme or a value that is no single token is a credential, and a bad one: it is verified
    // as it stands and refused as malformed.
    token = value === '' ? undefined : (bearerToken(value) ?? value);
  }
  const peerCert = call.getAuthContext?.()?.sslPeerCertificate?.raw;
  return {
    ...(token !== undefined ? { token } : {}),
    // grpc-js exposes only the verified leaf; the intermediates that may have issued it are ours.
    ...(peerCert ? { peerCertificates: [peerCert, ...extraChain()] } : {}),
    peerAddress: call.getPeer(),
  };
}

/**
 * The CA network service: Istio's CreateCertificate and Castellan's API over gRPC/TLS, health and
 * metrics over HTTP. `start` returns once both listen and the serving certificate exists.
 */
export class CaServer {
  private readonly grpc: Server;
  private readonly connections: ConnectionGuard;
  private http?: HealthEndpoints;
  private readonly serving: ServingIdentity;
  private readonly bundle: TrustBundleSource;
  private readonly service: IssuanceService;
  private readonly jwtSvids: JwtSvidService;
  readonly metrics: CaMetrics;
  private issuer: Issuer;
  /** The signing workers every Issuer of this server hands its CSRs to (config signingWorkers). */
  private readonly workers?: SigningWorkers;
  private readonly watchers = new Set<TrustBundleStream>();
  /** Each bundle snapshot's WatchTrustBundle message, encoded once (thousands of agents watch one snapshot). */
  private readonly encodedBundles = new WeakMap<TrustBundleSnapshot, Buffer>();
  private serializeTrustBundle: (m: CaV1.TrustBundle) => Buffer = () => {
    throw new Error('ca: WatchTrustBundle before the services were added');
  };
  private readonly watcherSlots: StreamSlots;
  /** The CA directory as last loaded: authorities change under the server (rotation). */
  private ca: CaDirectory;
  readonly agents: AgentTracker;
  private readonly background: { stop(): Promise<void> | void }[] = [];
  private readonly lastly: { stop(): Promise<void> | void }[] = [];
  private state: 'starting' | 'serving' | 'draining' | 'stopped' = 'starting';
  grpcPort = 0;
  httpPort = 0;

  private readonly now: () => Date;
  private readonly chainResponse = new ChainResponseEncoder();

  private constructor(private readonly o: CaServerOptions) {
    const now = o.now ?? (() => new Date());
    this.now = now;
    const cfg = o.config;
    this.ca = o.ca;
    this.agents = o.agents ?? new AgentTracker({ replicaId: 'memory', now, log: o.log });
    this.bundle = new TrustBundleSource(o.ca.bundle, o.ca.bundleSequence, bundleExtras(o.ca));
    // docs/architecture.md §4. A PKCS#11 key signs on the event loop: workers could not use it.
    const workers = cfg.keys.pkcs11 !== undefined ? 0 : cfg.signingWorkers === 'auto' ? autoSigningWorkers() : cfg.signingWorkers;
    if (workers > 0) this.workers = new SigningWorkers({ size: workers, log: o.log });
    this.issuer = new Issuer({
      authority: o.ca.active,
      defaultTtlMs: cfg.workloadTtlMs,
      maxTtlMs: cfg.maxWorkloadTtlMs,
      now,
      ...(this.workers ? { workers: this.workers } : {}),
    });
    this.metrics = new CaMetrics(() => this.ca.authorities, now);
    this.metrics.observeRotation({ sequence: () => this.bundle.current().sequence, liveAgentSequences: () => this.agents.liveSequences() });
    this.metrics.observeServing(() => this.serving.expiresAt, now);
    this.metrics.observeSigningWorkers(() => this.workers?.running ?? 0);
    if (o.ledger) this.metrics.observeLedger(o.ledger.stats);
    const limits = cfg.limits;
    this.serving = new ServingIdentity({
      authority: () => servingAuthority(this.ca, this.now()),
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      // A path no service account maps to (/ns/<ns>/sa/<sa>): no workload can obtain the CA's identity.
      spiffeId: SpiffeId.fromPath(o.ca.trustDomain, '/castellan/ca'),
      dnsNames: cfg.servingDnsNames,
      ipAddresses: cfg.servingIpAddresses,
      bundle: this.bundle,
      now,
      log: o.log,
      ...(o.ledger ? { ledger: o.ledger } : {}),
    });
    const bundleDer = () => this.bundle.current().roots.map((r) => r.der);
    const certAuth = !cfg.authentication.clientCertificate ? undefined : o.clientCertificateAuthenticator?.(bundleDer);
    this.service = new IssuanceService({
      issuer: () => this.issuer,
      ...(o.tokenAuthenticator ? { tokenAuthenticator: o.tokenAuthenticator } : {}),
      ...(certAuth ? { clientCertificateAuthenticator: certAuth } : {}),
      authorize: o.authorize,
      perPeerLimit: new RateLimiter(limits.perPeer),
      globalLimit: new RateLimiter(limits.global),
      perIdentityLimit: new RateLimiter(limits.perIdentity),
      metrics: this.metrics,
      log: o.log,
      ...(o.ledger ? { ledger: o.ledger } : {}),
    });
    const j = cfg.jwtSvid;
    this.jwtSvids = new JwtSvidService({
      service: this.service,
      issuer: new JwtSvidIssuer({
        ca: () => this.ca,
        defaultTtlMs: j.defaultTtlMs,
        maxTtlMs: j.maxTtlMs,
        publishLeadMs: j.keyPublishLeadMs,
        now,
      }),
      authority: () => this.issuer.authority,
      metrics: this.metrics,
      log: o.log,
      ...(o.ledger ? { ledger: o.ledger } : {}),
    });
    this.watcherSlots = new StreamSlots({
      total: limits.maxWatchers,
      perIdentity: limits.maxWatchersPerIdentity,
      perPeer: limits.maxWatchersPerPeer,
      perIdentityPeer: limits.maxWatchersPerIdentityPeer,
    });
    this.connections = new ConnectionGuard({
      maxPerPeer: limits.maxConnectionsPerPeer,
      requestTimeoutMs: limits.requestTimeoutMs,
      closed: this.metrics.connectionsClosed,
      log: o.log,
    });
    this.grpc = new Server({
      'grpc.max_receive_message_length': limits.maxRequestBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      // Bounds what one connection can hold open: an agent needs one trust-bundle stream and a few
      // calls at a time; a connection that stalls holds at most this many calls until requestTimeout.
      'grpc.max_concurrent_streams': 100,
      // Connections that hold nothing are closed; every connection is recycled after an age (agents
      // re-open their trust-bundle stream on a new one, re-authenticating), and dead peers are found.
      'grpc.max_connection_idle_ms': limits.connectionIdleTimeoutMs,
      'grpc.max_connection_age_ms': limits.connectionMaxAgeMs,
      'grpc.max_connection_age_grace_ms': limits.connectionMaxAgeGraceMs,
      'grpc.keepalive_time_ms': KEEPALIVE.timeMs,
      'grpc.keepalive_timeout_ms': KEEPALIVE.timeoutMs,
      // Channelz keeps per-connection and per-call records nobody here reads.
      'grpc.enable_channelz': 0,
      interceptors: [this.connections.interceptor],
    });
    this.addServices(caProtos());
  }

  /** The CA's gRPC methods, one line each: the handler, and who logs its refusals (call-adapter.ts). */
  private addServices(protos: CaProtos): void {
    const ctx: CallAdapterContext = { log: this.o.log, refuseIfNotReady: () => this.refuseIfNotReady() };
    const unary = <Req, Res>(method: string, handle: (call: ServerUnaryCall<Req, Res>) => Promise<Res>, o?: UnaryOptions<Req, Res>) => unaryMethod(ctx, method, handle, o);
    // The issuance pipelines (issuance-service.ts, jwt-svid-service.ts) log and record their own refusals.
    const pipeline = { refusals: 'pipeline' } as const;
    // CreateCertificate answers the bytes ChainResponseEncoder made (withPreEncodedResponses), not a message object.
    const istio: PreEncodedHandlers<IstioV1Auth.IstioCertificateServiceHandlers> = {
      CreateCertificate: unary('CreateCertificate', (call) => this.createCertificate(call), pipeline),
    };
    this.grpc.addService(withPreEncodedResponses(protos.istio.service, 'CreateCertificate'), istio);
    const castellan: PreEncodedHandlers<CaV1.CertificateAuthorityHandlers, 'WatchTrustBundle'> = {
      Sign: unary('Sign', (call) => this.sign(call), pipeline),
      SignJwtSvid: unary('SignJwtSvid', (call) => this.signJwtSvid(call), pipeline),
      WatchTrustBundle: serverStreamMethod(ctx, 'WatchTrustBundle', (call) => this.watchTrustBundle(call)),
      GetAuthorityStatus: unary('GetAuthorityStatus', (call) => this.getAuthorityStatus(call)),
      ReportTrustBundle: unary('ReportTrustBundle', (call) => this.reportTrustBundle(call)),
      Authenticate: unary('Authenticate', (call) => this.authenticate(call), {
        logFields: (call) => ({ tokenSha256: tokenHash(credentialsOf(call, this.intermediatesForPeer).token) }),
      }),
    };
    const encode = protos.castellan.service['WatchTrustBundle']!.responseSerialize;
    this.serializeTrustBundle = (m) => encode(m);
    this.grpc.addService(withPreEncodedResponses(protos.castellan.service, 'WatchTrustBundle'), castellan);
    const admin = this.o.rootAdmin;
    if (!admin) return;
    /** A RootAdmin method: the caller must be one of `admin.identities` (authorizeAdmin). */
    const adminMethod = <Req, Res>(method: string, run: (request: Req) => Promise<Res>, o: { whenNotReady?: boolean } = {}) =>
      unary<Req, Res>(
        method,
        async (call) => {
          await this.authenticated(call, (caller) => this.authorizeAdmin(method, call.getPeer(), caller));
          return run(call.request);
        },
        o,
      );
    const rootAdmin: CaV1.RootAdminHandlers = {
      GetRootStatus: adminMethod('GetRootStatus', async () => stepResponse({ message: '', warnings: [], status: await admin.status() })),
      PrepareRoot: adminMethod('PrepareRoot', async (r) => stepResponse(await admin.prepare(prepareOptions(r)))),
      ActivateRoot: adminMethod('ActivateRoot', async (r) => stepResponse(await admin.activate({ force: r.force, ...(r.reissueRate > 0 ? { reissueRate: r.reissueRate } : {}) }))),
      RetireRoot: adminMethod('RetireRoot', async (r) => stepResponse(await admin.retire({ force: r.force }))),
      RotateIntermediate: adminMethod('RotateIntermediate', async (r) => stepResponse(await admin.rotateIntermediate(r.ttlSeconds > 0 ? { ttlMs: r.ttlSeconds * 1000 } : {}))),
      // Answered also while not ready: saying why is the point (castellan check --server).
      GetHealth: adminMethod('GetHealth', async () => healthResponse(await this.health(admin)), { whenNotReady: true }),
    };
    this.grpc.addService(protos.rootAdmin.service, rootAdmin);
  }

  /**
   * Starts a CA server; its gRPC and HTTP ports are on the returned object (0 in config = any free
   * port). All or nothing (docs/cli.md, `ca serve`): the HTTP port is bound first, then the gRPC port
   * (with a placeholder certificate no client trusts), and only then is the serving certificate recorded
   * and served; a port in use fails the start naming its setting, with nothing recorded.
   */
  static async start(o: CaServerOptions): Promise<CaServer> {
    const s = new CaServer(o);
    const g = parseHostPort(o.config.listen);
    const h = parseHostPort(o.config.http);
    try {
      // Threads only once nothing before can throw; a failed start below closes them.
      s.workers?.start();
      const http = await startHealthEndpoints({
        host: h.host,
        port: h.port,
        metrics: s.metrics.registry,
        ready: () => s.notReadyReason(),
        ...(o.notes ? { notes: o.notes } : {}),
      }).catch((err: unknown) => {
        throw listenError(err, `${h.host}:${h.port}`, 'health and metrics', 'http / --http / CASTELLAN_HTTP');
      });
      s.http = http;
      s.httpPort = http.port;
      await s.serving.prepare();
      const creds = s.serving.credentials;
      s.grpcPort = await s.connections.listen(s.grpc, creds, g.host, g.port).catch((err: unknown) => {
        throw listenError(err, `${g.host}:${g.port}`, 'gRPC', 'listen / --listen / CASTELLAN_LISTEN');
      });
      await s.serving.activate();
    } catch (err) {
      s.serving.stop();
      s.connections.stopAccepting();
      s.grpc.forceShutdown();
      s.connections.destroyAll();
      await s.http?.close();
      await s.workers?.close();
      s.state = 'stopped';
      throw err;
    }
    s.state = 'serving';
    o.log.info(
      {
        grpc: `${g.host}:${s.grpcPort}`,
        http: `${h.host}:${s.httpPort}`,
        trustDomain: o.ca.trustDomain.name,
        // Started, maybe not ready yet: each worker loads its modules first (castellan_signing_workers).
        signingWorkers: s.workers?.size ?? 0,
        // libuv's pool as the environment asked for it (unset: libuv's 4; docs/architecture.md §4).
        UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? null,
      },
      'castellan CA serving',
    );
    return s;
  }

  /**
   * Installs a newly loaded CA directory (root or intermediate rotation): a new active authority signs
   * from now on (and the serving certificate is re-issued under it); a newer bundle sequence is pushed
   * to every WatchTrustBundle stream. Older states are ignored.
   */
  applyDirectory(ca: CaDirectory): void {
    if (ca.bundleSequence < this.ca.bundleSequence) return;
    const issuerChanged = !ca.active.issuer.der.equals(this.issuer.authority.issuer.der);
    const servingBefore = servingAuthority(this.ca, this.now());
    this.ca = ca;
    if (issuerChanged) {
      const cfg = this.o.config;
      this.issuer = new Issuer({
        authority: ca.active,
        defaultTtlMs: cfg.workloadTtlMs,
        maxTtlMs: cfg.maxWorkloadTtlMs,
        now: this.now,
        ...(this.workers ? { workers: this.workers } : {}),
      });
    }
    // The bundle first: peers learn a new root before any certificate under it is served.
    this.bundle.replace({ sequence: ca.bundleSequence, roots: ca.bundle, ...bundleExtras(ca) });
    if (issuerChanged) {
      this.o.log.info(
        { authority: ca.active.id, issuerKeyId: ca.active.issuer.ski.toString('hex'), bundleSequence: ca.bundleSequence },
        'active authority changed; new leaves are signed by it',
      );
    }
    const servingNow = servingAuthority(ca, this.now());
    if (!servingNow.issuer.der.equals(servingBefore.issuer.der)) {
      this.o.log.info({ authority: servingNow.id }, "the CA's serving certificate moves to another authority; re-issuing it");
      this.serving.renewSoon();
    }
  }

  /** Stops `task` when the server shuts down (before the drain). */
  addBackground(task: { stop(): Promise<void> | void }): void {
    this.background.push(task);
  }

  /**
   * Stops `task` last, after the drain and the ledger's final checkpoint: what that checkpoint still
   * needs (the store holding the ledger head witness, the key providers signing it).
   */
  addFinalizer(task: { stop(): Promise<void> | void }): void {
    this.lastly.push(task);
  }

  /** The CA directory the server serves from now. */
  get directory(): CaDirectory {
    return this.ca;
  }

  /** The authority that signs leaves now (and the ledger's checkpoints). */
  get activeAuthority(): SigningAuthority {
    return this.issuer.authority;
  }

  /** The trust bundle source (agents follow it through WatchTrustBundle). */
  get trustBundle(): TrustBundleSource {
    return this.bundle;
  }

  /** The CA's own X509-SVID (spiffe://<td>/castellan/ca) key and chain, PEM: the https_spiffe bundle endpoint serves with it. */
  get servingTls(): { readonly key: string; readonly cert: string } | undefined {
    return this.serving.tlsMaterial;
  }

  /** Calls `listener` whenever the serving key and chain are renewed. */
  onServingTls(listener: (m: { key: string; cert: string }) => void): () => void {
    return this.serving.onMaterial(listener);
  }

  /** PEM chain of the serving certificate (for clients that pin it in tests). */
  get servingChain(): string {
    return this.serving.certificateChain;
  }

  private notReadyReason(): string | undefined {
    if (this.state === 'starting') return 'starting';
    if (this.state !== 'serving') return 'shutting down';
    if (this.serving.expiresAt.getTime() <= this.now().getTime()) return 'serving certificate expired';
    return undefined;
  }

  private refuseIfNotReady(): void {
    const why = this.notReadyReason();
    if (why) throw caError('ERR_NOT_READY', `ca: not ready (${why}); retry`);
  }

  private intermediatesForPeer = (): readonly Uint8Array[] => [this.issuer.authority.issuer.der, ...this.issuer.authority.parents.slice(0, -1).map((p) => p.der)];

  /**
   * The caller of `call`, authenticated (its bearer token, else its client certificate; the per-address
   * rate limit first) and authorized: by the identity policy, or by `authorize` (RootAdmin: the admin
   * identities). The issuance pipelines do this themselves, and also charge the global and per-identity budgets.
   */
  private async authenticated(call: CallWithCredentials, authorize: (caller: AuthenticatedCaller) => void = this.o.authorize): Promise<AuthenticatedCaller> {
    const caller = await this.service.authenticate(credentialsOf(call, this.intermediatesForPeer));
    authorize(caller);
    return caller;
  }

  /**
   * RootAdmin: the caller must be one of `admin.identities`; every admitted call is logged with the caller.
   * A refusal's stable code travels in `castellan-error` metadata so the CLI can tell a gate's refusal
   * (exit 3) from other failures.
   */
  private authorizeAdmin(method: string, peer: string, caller: AuthenticatedCaller): void {
    const who = caller.spiffeId.toString();
    if (!this.o.config.admin.identities.includes(who)) {
      throw caError('ERR_NOT_ADMIN', `ca: ${who} may not administer roots; list it in the CA's admin.identities`);
    }
    this.o.log.info({ event: 'root-admin', method, caller: who, peer }, 'root administration call');
  }

  /** Istio's CreateCertificate: leaf, intermediates, then every trusted root concatenated as the last entry (as Istio's server answers). */
  private async createCertificate(call: ServerUnaryCall<IstioV1Auth.IstioCertificateRequest__Output, Buffer>): Promise<Buffer> {
    // A negative or absurd validity_duration is refused by the issuer inside the pipeline (counted, logged).
    const r = await this.service.issue(credentialsOf(call, this.intermediatesForPeer), call.request.csr, call.request.validityDuration * 1000, 'istio', () => call.cancelled);
    const c = r.certificate;
    return this.chainResponse.encode(c.leafPem, c.chainPem.slice(0, -1), this.bundle.current().pem);
  }

  private async sign(call: ServerUnaryCall<CaV1.SignRequest__Output, CaV1.SignResponse>): Promise<CaV1.SignResponse> {
    const r = await this.service.issue(credentialsOf(call, this.intermediatesForPeer), call.request.csr, call.request.ttlSeconds * 1000, 'castellan', () => call.cancelled);
    const c = r.certificate;
    const b = this.bundle.current();
    const agentId = boundedAgentId(call.request.agentId);
    const reported = Number(call.request.bundleSequence);
    // A sequence this CA never sent (a restored directory, a confused client) says nothing.
    if (agentId && Number.isSafeInteger(reported) && reported <= b.sequence) {
      this.agents.signed({ agentId, identity: r.caller.spiffeId.toString(), sequence: reported, peer: call.getPeer() });
    }
    return {
      spiffeId: c.spiffeId.toString(),
      leaf: c.leafPem,
      intermediates: c.chainPem.slice(0, -1),
      trustBundle: b.roots.map((x) => x.pem),
      bundleSequence: b.sequence,
      serial: c.serialHex,
      notBefore: timestamp(c.notBefore),
      notAfter: timestamp(c.notAfter),
    };
  }

  /** A JWT-SVID for the caller's own identity (docs/jwt-svid.md). */
  private async signJwtSvid(call: ServerUnaryCall<CaV1.SignJwtSvidRequest__Output, CaV1.SignJwtSvidResponse>): Promise<CaV1.SignJwtSvidResponse> {
    const ttl = Number(call.request.ttlSeconds);
    const { jwt } = await this.jwtSvids.issue(
      credentialsOf(call, this.intermediatesForPeer),
      call.request.audience,
      Number.isFinite(ttl) ? ttl * 1000 : Number.NaN,
      () => call.cancelled,
    );
    return { spiffeId: jwt.spiffeId.toString(), token: jwt.token, keyId: jwt.keyId, issuedAt: timestamp(jwt.issuedAt), expiresAt: timestamp(jwt.expiresAt) };
  }

  /** The trust bundle now, then every change, until the caller or the server ends the stream (docs/architecture.md §6). */
  private async watchTrustBundle(call: TrustBundleStream): Promise<void> {
    const identity = (await this.authenticated(call)).spiffeId.toString();
    this.refuseIfNotReady(); // shutdown may have begun while we authenticated
    // One workload (or one address) must not take the slots every other agent needs.
    const release = this.watcherSlots.acquire(identity, peerIp(call.getPeer()));
    let disconnect: () => void;
    try {
      const agentId = boundedAgentId(call.request.agentId);
      const gone = agentId ? this.agents.connected({ agentId, identity, peer: call.getPeer() }) : () => {};
      disconnect = () => {
        gone();
        release();
      };
    } catch (err) {
      release();
      throw err;
    }
    if (call.cancelled) {
      disconnect();
      return;
    }
    const send = (s: TrustBundleSnapshot) => call.write(this.encodedTrustBundle(s));
    send(this.bundle.current());
    const unsubscribe = this.bundle.subscribe(send);
    this.watchers.add(call);
    this.metrics.bundleWatchers.set(this.watchers.size);
    const done = () => {
      disconnect();
      unsubscribe();
      this.watchers.delete(call);
      this.metrics.bundleWatchers.set(this.watchers.size);
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  }

  /** A snapshot's WatchTrustBundle message, encoded once for every stream that is sent it. */
  private encodedTrustBundle(s: TrustBundleSnapshot): Buffer {
    let bytes = this.encodedBundles.get(s);
    if (!bytes) {
      bytes = this.serializeTrustBundle(this.trustBundleMessage(s));
      this.encodedBundles.set(s, bytes);
    }
    return bytes;
  }

  private trustBundleMessage(s: TrustBundleSnapshot): CaV1.TrustBundle {
    return {
      sequence: s.sequence,
      trustDomain: this.o.ca.trustDomain.name,
      roots: s.roots.map((r) => r.pem),
      activeIssuerKeyId: s.activeIssuerKeyId,
      reissueSpreadSeconds: s.reissueSpreadSeconds,
      jwtAuthorities: s.jwtAuthorities.map(jwtAuthorityMessage),
      federatedBundles: s.federated.map((b) => ({
        trustDomain: b.trustDomain.name,
        roots: b.x509Authorities.map((der) => derToPem(der, 'CERTIFICATE')),
        jwtAuthorities: b.jwtAuthorities.map(jwtAuthorityMessage),
        spiffeSequence: b.sequence ?? 0,
      })),
    };
  }

  /** GetHealth: readiness, serving certificate, ledger and rotation state (docs/cli.md, `castellan check --server`). */
  private async health(admin: RootAdmin) {
    const extra = await this.o.health?.();
    const l = this.o.ledger;
    return caHealth({
      notReady: this.notReadyReason(),
      notes: this.o.notes?.() ?? [],
      servingNotAfter: this.serving.expiresAt,
      ledger: l ? { location: l.location, stats: l.stats, ...(extra?.ledgerAnchors ? { anchors: extra.ledgerAnchors } : {}) } : undefined,
      rotation: await admin.status(),
      replica: extra?.replica ?? 'memory',
      leader: extra?.leader ?? true,
    });
  }

  /** An agent says which bundle sequence it serves now (after pushing ROOTCA to its workloads). */
  private async reportTrustBundle(call: ServerUnaryCall<CaV1.ReportTrustBundleRequest__Output, CaV1.ReportTrustBundleResponse>): Promise<CaV1.ReportTrustBundleResponse> {
    const caller = await this.authenticated(call);
    const agentId = boundedAgentId(call.request.agentId);
    if (!agentId) throw caError('ERR_REPORT_INVALID', 'ca: ReportTrustBundle needs an agent_id of 1 to 253 printable characters');
    const sequence = Number(call.request.sequence);
    if (!Number.isSafeInteger(sequence) || sequence < 1 || sequence > this.bundle.current().sequence) {
      throw caError(
        'ERR_REPORT_INVALID',
        `ca: ReportTrustBundle sequence ${String(call.request.sequence)} is not a bundle this CA sent (current ${this.bundle.current().sequence})`,
      );
    }
    this.agents.report({ agentId, identity: caller.spiffeId.toString(), sequence, peer: call.getPeer() });
    return {};
  }

  /** Who the caller's credentials stand for, checked as for Sign (node agents re-check pod tokens with it). */
  private async authenticate(call: ServerUnaryCall<CaV1.AuthenticateRequest__Output, CaV1.AuthenticateResponse>): Promise<CaV1.AuthenticateResponse> {
    const caller = await this.service.confirm(credentialsOf(call, this.intermediatesForPeer));
    this.o.log.debug(
      { event: 'authenticated', method: 'Authenticate', spiffeId: caller.spiffeId.toString(), tokenSha256: caller.tokenSha256, peer: call.getPeer() },
      'caller authenticated',
    );
    return { spiffeId: caller.spiffeId.toString() };
  }

  private async getAuthorityStatus(call: ServerUnaryCall<CaV1.GetAuthorityStatusRequest__Output, CaV1.AuthorityStatus>): Promise<CaV1.AuthorityStatus> {
    await this.authenticated(call);
    const b = this.bundle.current();
    return {
      trustDomain: this.o.ca.trustDomain.name,
      bundleSequence: b.sequence,
      authorities: this.ca.authorities.map((a) => ({
        id: a.id,
        state: a.state,
        rootSubject: a.root.cert.subject,
        rootNotAfter: timestamp(a.root.notAfter),
        issuerSubject: a.issuer.cert.subject,
        issuerNotAfter: timestamp(a.issuer.notAfter),
      })),
    };
  }

  /**
   * Stops accepting calls (readiness turns 503 first), ends trust-bundle streams, lets in-flight calls
   * finish for up to `graceMs`, then closes everything.
   */
  async shutdown(graceMs = this.o.config.shutdownGraceMs): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'draining';
    this.connections.stopAccepting();
    for (const t of this.background) await t.stop();
    for (const w of this.watchers) w.end();
    const drained = new Promise<void>((resolve) => this.grpc.tryShutdown(() => resolve()));
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([drained, timer])) === 'timeout') {
      this.o.log.warn({ graceMs }, 'in-flight requests did not finish in time; closing them');
      this.grpc.forceShutdown();
    }
    // Connections that never became gRPC sessions (a TLS handshake under way) are not the server's to wait for.
    this.connections.destroyAll();
    this.serving.stop();
    await this.agents.stop();
    // After the drain: every in-flight issuance has its record committed; close adds a final checkpoint.
    await this.o.ledger?.close().catch((err: unknown) => this.o.log.error({ err }, 'ledger: close failed'));
    await this.workers?.close();
    for (const t of this.lastly) await t.stop();
    await this.http?.close();
    this.state = 'stopped';
    this.o.log.info('castellan CA stopped');
  }
}

/** A listener that could not be bound, named by its setting (what the operator must change). */
function listenError(err: unknown, address: string, what: string, setting: string): Error {
  const code = (err as NodeJS.ErrnoException).code ?? (/address already in use/i.test(String((err as Error)?.message)) ? 'EADDRINUSE' : undefined);
  const why =
    code === 'EADDRINUSE'
      ? 'the address is already in use (another process listens there)'
      : code === 'EACCES'
        ? 'permission denied (a port below 1024?)'
        : ((err as Error)?.message ?? String(err));
  return caError('ERR_LISTEN', `ca: cannot listen on ${address} for ${what}: ${why}; change ${setting}`, { cause: err });
}

/** The agent id a caller claims, or undefined when absent or unreasonable (it is only a label). */
function boundedAgentId(id: string | undefined): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is what this check is for
  if (typeof id !== 'string' || id.length === 0 || id.length > 253 || /[\u0000-\u001f\u007f]/.test(id)) return undefined;
  return id;
}

/**
 * The authority that signs the CA's own serving certificate. Between a root activation and the old
 * root's retirement it stays under the old root: agents and Istio clients verify the CA with a root
 * file given at their start (`--ca-bundle`), which holds the old root until operators redistribute it.
 * Among several, the retired slot of the old root whose intermediate lives longest; the active one
 * once no old root is left (or its intermediates are about to expire).
 */
function servingAuthority(ca: CaDirectory, now: Date): LoadedAuthority {
  const activeRoot = ca.active.root.der;
  let best: LoadedAuthority | undefined;
  for (const a of ca.authorities) {
    if (a.state !== 'retired' || a.record.inBundle === false || a.root.der.equals(activeRoot)) continue;
    if (a.issuer.notAfter.getTime() - now.getTime() < 3_600_000) continue;
    if (!best || a.issuer.notAfter > best.issuer.notAfter) best = a;
  }
  return best ?? ca.active;
}

function bundleExtras(ca: CaDirectory): { activeIssuerKeyId: string; reissueSpreadSeconds: number; jwtAuthorities: JwtAuthority[]; federated: SpiffeBundle[] } {
  return {
    activeIssuerKeyId: ca.active.issuer.ski.toString('hex'),
    reissueSpreadSeconds: ca.reissueSpreadSeconds,
    jwtAuthorities: publishedJwtAuthorities(ca),
    federated: storedFederatedBundles(ca.snapshot.state).map((f) => f.bundle),
  };
}

function jwtAuthorityMessage(a: JwtAuthority): CaV1.JwtAuthority {
  return { keyId: a.keyId, publicKey: a.publicKey.export({ format: 'der', type: 'spki' }) };
}

/** A RootAdmin step's answer with the rotation status after it; status_json for clients older than the typed `status` (deprecated, one more release). */
function stepResponse(step: RootStepOutcome): CaV1.RootStepResponse {
  return { message: step.message, warnings: [...step.warnings], statusJson: JSON.stringify(step.status, null, 2), status: rootStatusMessage(step.status) };
}

/** GetHealth's answer; health_json for clients older than the typed `health` (deprecated, one more release). */
function healthResponse(h: CaHealth): CaV1.GetHealthResponse {
  return { healthJson: JSON.stringify(h), health: caHealthMessage(h) };
}

/** PrepareRoot's request as RootAdmin.prepare options (0 and empty mean: the default). */
function prepareOptions(r: CaV1.PrepareRootRequest__Output): Parameters<RootAdmin['prepare']>[0] {
  return {
    ...(r.keyType ? { keyType: parseKeyType(r.keyType) } : {}),
    ...(r.rootTtlSeconds > 0 ? { rootTtlMs: r.rootTtlSeconds * 1000 } : {}),
    ...(r.intermediateTtlSeconds > 0 ? { intermediateTtlMs: r.intermediateTtlSeconds * 1000 } : {}),
  };
}

function timestamp(d: Date): { seconds: number; nanos: number } {
  const ms = d.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

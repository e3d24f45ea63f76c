import type { Logger } from 'pino';
import { CastellanError, createSvidRequest, isCastellanError, tokenSha256, type SpiffeId } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';
import type { AgentMetrics } from './agent-metrics.js';
import type { CaClient, SignedCertificate } from './ca-client.js';
import { isCaMisconfiguration } from './ca-transport-error.js';
import { ManagedIdentity } from './managed-identity.js';
import type { RotationOptions } from './rotation.js';
import { JwtSvidCache } from './jwt-svid-cache.js';
import type { JwtSvid, SecretProvider, SecretWatch, StreamCaller } from './secret-source.js';
import { jwtExpiryOrThrow } from './token-file.js';
import { TokenProofGuard, type TokenProofLimits } from './token-proof-guard.js';
import type { TrustBundleState } from './trust-bundle-state.js';
import { generateWorkloadKey } from './workload-key.js';

/**
 * How long after the CA last accepted a pod token a new stream presenting it is served without asking
 * the CA again, ms. It only lets the streams a workload opens together (Envoy's `default` and `ROOTCA`,
 * a Workload API client's SVID and bundle streams) share one CA call; a token the CA refuses (a deleted
 * pod's, with pod binding) is served to no stream opened after this window.
 */
export const DEFAULT_TOKEN_RECHECK_MS = 1_000;

export interface NodeProviderOptions {
  readonly client: () => CaClient;
  readonly bundles: TrustBundleState;
  readonly agentId: string;
  /** Rotation settings shared by every identity. */
  readonly rotation: Omit<RotationOptions, 'cache' | 'bundle' | 'offerBundle' | 'sign' | 'spiffeId' | 'log' | 'clock'>;
  readonly clock: AgentClock;
  /** How long an identity no stream watches is kept (and renewed), ms. Default 300000. */
  readonly idleMs?: number;
  /** See DEFAULT_TOKEN_RECHECK_MS. 0: every new stream asks the CA. Default 1000. */
  readonly tokenRecheckMs?: number;
  readonly metrics?: AgentMetrics;
  readonly log: Logger;
  /** Bounds on token checks (defaults in token-proof-guard.ts); tests make them small. */
  readonly proofLimits?: TokenProofLimits;
  /** Called after the CA accepted a pod's token (the agent's bundle stream may now open with it). */
  readonly onTokenAccepted?: () => void;
}

interface PodToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** What the CA said a token stands for, and when it last said so. */
interface TokenProof {
  readonly id: SpiffeId;
  readonly expiresAt: number;
  confirmedAt: number;
}

interface NodeIdentity {
  readonly id: SpiffeId;
  readonly managed: ManagedIdentity;
  /** Tokens the CA accepted for this identity, by SHA-256: the newest valid one renews it. */
  readonly tokens: Map<string, PodToken>;
  idleTimer: unknown;
  dropped: boolean;
}

/** `p`, or ERR_CANCELLED as soon as `signal` aborts. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new CastellanError('ERR_CANCELLED', 'sds: the stream ended before its token was checked'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** The CA refused the credential itself (not a transient failure). */
function isRefusal(err: unknown): err is CastellanError {
  return isCastellanError(err, 'ERR_TOKEN_REJECTED') || isCastellanError(err, 'ERR_PERMISSION_DENIED');
}

/**
 * Node mode (docs/architecture.md §5): one agent serves every pod of a node. Each stream carries its pod's token and
 * gets exactly the identity the CA says that token stands for (`Authenticate`); one key and certificate
 * per identity, shared by that identity's streams.
 *
 * The token is the stream's only credential, so the agent never serves an identity on the strength of
 * a token the CA would now refuse:
 * - a new stream is served only after the CA accepted its token within `tokenRecheckMs` (1 s), so a
 *   deleted pod's token (pod binding) stops working on the node as soon as the CA refuses it;
 * - each renewal first asks the CA about the token of every open stream, so a new key never reaches a
 *   stream whose token the CA now refuses;
 * - when the CA refuses a token (then or on any call), the streams opened with it end with the CA's
 *   refusal (UNAUTHENTICATED / PERMISSION_DENIED), and an identity no accepted stream holds any more is
 *   dropped with its key and certificate. A policy refusal (PERMISSION_DENIED) drops the identity at once.
 * A stream whose token merely expired keeps its identity, renewed over mTLS with the still-valid
 * certificate (Envoy's `initial_metadata` token cannot be refreshed): SECURITY.md lists that limit.
 *
 * @example const w = await provider.watch({ token: podToken, peer: 'unix-socket:3' });
 */
export class NodeProvider implements SecretProvider {
  private readonly byToken = new Map<string, TokenProof>();
  /** By SPIFFE ID (its string form). */
  private readonly identities = new Map<string, NodeIdentity>();
  private readonly confirming = new Map<string, Promise<SpiffeId>>();
  private readonly guard: TokenProofGuard;
  /** False once the CA answered UNIMPLEMENTED to Authenticate (an older CA): tokens are proved by signing. */
  private caAuthenticates: boolean | undefined;
  private closed = false;
  private readonly jwtSvids: JwtSvidCache;

  constructor(private readonly o: NodeProviderOptions) {
    this.guard = new TokenProofGuard(o.clock, o.proofLimits);
    this.jwtSvids = new JwtSvidCache(o.clock);
  }

  /**
   * A JWT-SVID for the identity the caller's token stands for (docs/jwt-svid.md): the token is proved as
   * for a stream (`watch`), then the CA signs with that same token, so `sub` is what the CA says the
   * token is. Tokens are cached per identity and audience set.
   */
  async fetchJwtSvid(caller: StreamCaller, audience: readonly string[], signal?: AbortSignal): Promise<JwtSvid> {
    const w = await this.watch(caller, signal);
    let id: SpiffeId;
    try {
      id = w.current().svid.id;
    } finally {
      w.close();
    }
    const token = caller.token!;
    return this.jwtSvids.get(id, audience, async () => {
      try {
        return await this.o.client().signJwtSvid({ token, audience, agentId: this.o.agentId });
      } catch (err) {
        if (isRefusal(err)) {
          this.jwtSvids.forget(id);
          this.refused(tokenSha256(token), err);
        }
        throw err;
      }
    });
  }

  /** The identities held now (for metrics and readiness). */
  get served(): readonly ManagedIdentity[] {
    return [...this.identities.values()].map((i) => i.managed);
  }

  /** The newest still-valid pod token of any identity (node mode's credential for WatchTrustBundle). */
  anyValidToken(): string | undefined {
    const now = this.now();
    let best: PodToken | undefined;
    for (const i of this.identities.values()) for (const t of i.tokens.values()) if (t.expiresAt > now && (!best || t.expiresAt > best.expiresAt)) best = t;
    return best?.token;
  }

  /**
   * The identity `token` already stands for on this agent (the CA accepted it, has not refused it since,
   * it has not expired), or undefined. Asks no one: `agent status` shows a caller only what it holds.
   */
  heldFor(token: string): ManagedIdentity | undefined {
    const sha = tokenSha256(token);
    const now = this.now();
    for (const i of this.identities.values()) {
      const t = i.tokens.get(sha);
      if (!i.dropped && t && t.expiresAt > now) return i.managed;
    }
    return undefined;
  }

  /** Whether `token` is one the CA accepted and has not refused since (and not expired). */
  holds(token: string): boolean {
    const sha = tokenSha256(token);
    const now = this.now();
    for (const i of this.identities.values()) {
      const t = i.tokens.get(sha);
      if (t && t.expiresAt > now) return true;
    }
    return false;
  }

  async watch(caller: StreamCaller, signal?: AbortSignal): Promise<SecretWatch> {
    if (this.closed) throw new CastellanError('ERR_NOT_READY', 'sds: the agent is shutting down');
    const token = caller.token;
    if (token === undefined || token === '') {
      throw new CastellanError('ERR_TOKEN_MISSING', 'sds: node mode needs the pod\'s service-account token as "authorization: Bearer <token>" call credentials');
    }
    const sha = tokenSha256(token);
    const now = this.now();
    let exp: number;
    try {
      // Local checks first: garbage, expired and recently refused tokens cost no key and no CA call.
      exp = jwtExpiryOrThrow(token).getTime();
      if (exp <= now) throw new CastellanError('ERR_TOKEN_EXPIRED', "sds: the stream's token has expired; send the pod's current token");
      this.guard.checkNotRefused(sha);
    } catch (err) {
      const reason = (err as CastellanError).code;
      this.o.metrics?.nodeTokenRefusals.inc({ reason });
      this.o.log.info({ tokenSha256: sha, reason, peer: caller.peer }, 'node mode: stream token refused locally');
      throw err;
    }
    const known = this.byToken.get(sha);
    const fresh =
      known !== undefined && known.expiresAt > now && this.identities.has(known.id.toString()) && now - known.confirmedAt < (this.o.tokenRecheckMs ?? DEFAULT_TOKEN_RECHECK_MS);
    // A stream that goes away stops waiting; its check still finishes (others may share it).
    const id = fresh ? known.id : await unlessAborted(this.confirm(token, sha, exp, caller), signal);
    if (signal?.aborted) throw new CastellanError('ERR_CANCELLED', 'sds: the stream ended before its token was checked');
    if (this.closed) throw new CastellanError('ERR_NOT_READY', 'sds: the agent is shutting down');
    let ni = this.identities.get(id.toString());
    const created = ni === undefined;
    ni ??= this.addIdentity(id);
    if (ni.idleTimer !== undefined) this.o.clock.clearTimeout(ni.idleTimer);
    ni.idleTimer = undefined;
    ni.tokens.set(sha, { token, expiresAt: exp });
    if (created) {
      // The first certificate is signed with this token (the CA checks it once more as it signs).
      ni.managed.rotation.start();
      this.o.log.info({ spiffeId: id, tokenSha256: sha }, 'node mode: new identity');
    }
    this.o.log.debug({ tokenSha256: sha, spiffeId: id, peer: caller.peer }, 'node mode: stream authenticated');
    let w: SecretWatch;
    try {
      w = await ni.managed.watch(signal, sha);
    } catch (err) {
      // The stream went away (or the identity has no certificate yet): if no other stream holds the
      // identity, its idle timer must run, or the identity would be kept and renewed forever.
      if (!ni.dropped && ni.managed.cache.watchers === 0) this.idle(ni);
      // The CA refused this token while the stream waited: its answer, not "no certificate yet".
      this.guard.checkNotRefused(sha);
      throw err;
    }
    if (ni.dropped || !ni.tokens.has(sha)) {
      // Refused while the certificate was being obtained: nothing goes out on this token.
      w.close();
      this.guard.checkNotRefused(sha);
      throw new CastellanError('ERR_NOT_READY', 'sds: the identity was released while the stream started; retry');
    }
    return w;
  }

  private now(): number {
    return this.o.clock.now().getTime();
  }

  /**
   * Asks the CA which identity `token` stands for, in the stream's connection's turn (the fair queue
   * of token-proof-guard.ts); concurrent streams with one token share one request. A refusal is
   * remembered and ends the streams opened with the token; any other failure is ERR_NOT_READY
   * (UNAVAILABLE: retry).
   */
  private confirm(token: string, sha: string, exp: number, caller: StreamCaller): Promise<SpiffeId> {
    const pending = this.confirming.get(sha);
    if (pending) return pending;
    const askedAt = this.now();
    const p = this.guard
      .run(caller.peer ?? '', () => this.askCa(token))
      .then(
        (id) => {
          this.accepted(sha, id, exp, askedAt);
          this.o.onTokenAccepted?.();
          return id;
        },
        (err: unknown) => {
          if (isRefusal(err)) {
            this.o.log.info({ tokenSha256: sha, reason: err.code, detail: err.message, peer: caller.peer }, "node mode: the CA refused a stream's token");
            this.refused(sha, err);
            throw err;
          }
          if (isCastellanError(err, 'ERR_NOT_READY')) throw err; // the guard's own refusal
          const code = isCastellanError(err) ? err.code : 'ERR_INTERNAL';
          // A misconfiguration was said once, naming the flag (ca-connection.ts).
          this.o.log[isCaMisconfiguration(err) ? 'debug' : 'warn'](
            { tokenSha256: sha, reason: code, detail: (err as Error).message },
            "node mode: cannot check a stream's token with the CA",
          );
          throw new CastellanError('ERR_NOT_READY', `sds: cannot check the pod's token with the CA: ${(err as Error).message}`, { cause: err });
        },
      )
      .finally(() => this.confirming.delete(sha));
    p.catch(() => undefined); // its callers handle the refusal; a stream that stopped waiting does not
    this.confirming.set(sha, p);
    return p;
  }

  /** The identity the CA says `token` stands for now: `Authenticate`, or a signature from an older CA. */
  private async askCa(token: string): Promise<SpiffeId> {
    if (this.caAuthenticates !== false) {
      try {
        const { id } = await this.o.client().authenticate({ token });
        this.caAuthenticates = true;
        return id;
      } catch (err) {
        if (!(isCastellanError(err, 'ERR_CA_REFUSED') && (err.context as { grpcStatus?: number }).grpcStatus === 12)) throw err;
        this.caAuthenticates = false;
        this.o.log.warn('node mode: the CA does not implement Authenticate (an older CA); each token check costs a signature until the CA is upgraded');
      }
    }
    return (await this.proveBySigning(token)).id;
  }

  /** An older CA: a CSR without a SAN, signed for whatever identity the token stands for; the certificate is discarded. */
  private async proveBySigning(token: string): Promise<SignedCertificate> {
    const csrDer = await createSvidRequest(await generateWorkloadKey(this.o.rotation.keyType));
    let asked = this.o.rotation.ttl.seconds;
    const sign = () => this.o.client().sign({ csrDer, ttlSeconds: asked, bundleSequence: this.o.bundles.own?.sequence ?? 0, agentId: this.o.agentId, token });
    try {
      return await sign();
    } catch (err) {
      if (this.o.rotation.ttl.learnFrom(err, asked) === undefined) throw err;
      asked = this.o.rotation.ttl.seconds;
      return sign();
    }
  }

  /** The CA accepted the token with this SHA-256 for `id` (asked at `askedAt`). */
  private accepted(sha: string, id: SpiffeId, expiresAt: number, askedAt: number): void {
    const now = this.now();
    // Forget proofs of expired tokens (a pod's kubelet rotates its token hourly: this map would only grow).
    for (const [s, e] of this.byToken) if (e.expiresAt <= now) this.byToken.delete(s);
    const known = this.byToken.get(sha);
    if (known?.id.equals(id)) known.confirmedAt = Math.max(known.confirmedAt, askedAt);
    else this.byToken.set(sha, { id, expiresAt, confirmedAt: askedAt });
  }

  /**
   * The CA refused the token with this SHA-256: it is refused locally for a while, and no stream keeps
   * being served on its strength.
   */
  private refused(sha: string, err: CastellanError): void {
    this.guard.rememberRefused(sha, err);
    this.byToken.delete(sha);
    this.o.metrics?.nodeTokenRefusals.inc({ reason: err.code });
    for (const ni of [...this.identities.values()]) if (ni.tokens.has(sha) || ni.managed.cache.openTags().includes(sha)) this.revokeToken(ni, sha, err);
  }

  private revokeToken(ni: NodeIdentity, sha: string, err: CastellanError): void {
    ni.tokens.delete(sha);
    // Policy refuses the identity itself, whichever token asks for it.
    if (err.code === 'ERR_PERMISSION_DENIED') {
      this.drop(ni, err);
      return;
    }
    const ended = ni.managed.cache.revoke(err, sha);
    if (ended > 0)
      this.o.log.warn({ spiffeId: ni.id, tokenSha256: sha, streams: ended, reason: err.code }, 'node mode: the CA refuses the token these streams were opened with; ended them');
    // No stream opened with a token the CA still accepts holds the identity: nothing may keep its key.
    if (ni.managed.cache.watchers === 0) this.drop(ni, err);
  }

  /** Ends every stream of the identity with `err` and forgets its key and certificate. */
  private drop(ni: NodeIdentity, err: CastellanError): void {
    if (ni.dropped) return;
    ni.dropped = true;
    if (ni.idleTimer !== undefined) this.o.clock.clearTimeout(ni.idleTimer);
    this.forget(ni);
    const streams = ni.managed.cache.watchers;
    ni.managed.discard(err);
    this.o.log.warn({ spiffeId: ni.id, streams, reason: err.code }, "node mode: the CA refuses this identity's credentials; dropped its key and certificate and ended its streams");
  }

  /** Forgets `ni` and the token proofs that led to it. */
  private forget(ni: NodeIdentity): void {
    const key = ni.id.toString();
    if (this.identities.get(key) === ni) this.identities.delete(key);
    for (const [sha, e] of this.byToken) if (e.id.equals(ni.id)) this.byToken.delete(sha);
  }

  private addIdentity(id: SpiffeId): NodeIdentity {
    const tokens = new Map<string, PodToken>();
    const ni: NodeIdentity = {
      id,
      tokens,
      idleTimer: undefined,
      dropped: false,
      managed: new ManagedIdentity(
        this.o.bundles,
        {
          ...this.o.rotation,
          clock: this.o.clock,
          spiffeId: id,
          log: this.o.log,
          sign: (csrDer, ttlSeconds, current) => this.renew(ni, csrDer, ttlSeconds, current),
        },
        () => this.idle(ni),
      ),
    };
    this.identities.set(id.toString(), ni);
    return ni;
  }

  /**
   * One certificate request of an identity: signed with its newest valid token (a refused one is
   * dropped and the next tried), or, once every token expired, with the still-valid certificate (mTLS).
   * Before the new key goes out, the CA is asked about the token of every other open stream.
   */
  private async renew(ni: NodeIdentity, csrDer: Buffer, ttlSeconds: number, current: Parameters<RotationOptions['sign']>[2]): Promise<SignedCertificate> {
    const base = { csrDer, ttlSeconds: Math.min(ttlSeconds, this.o.rotation.ttl.seconds), bundleSequence: this.o.bundles.own?.sequence ?? 0, agentId: this.o.agentId };
    let signed: SignedCertificate | undefined;
    let signedWith: string | undefined;
    for (;;) {
      const best = this.bestToken(ni);
      if (!best) break;
      const askedAt = this.now();
      try {
        signed = await this.o.client().sign({ ...base, token: best[1].token });
        signedWith = best[0];
        this.accepted(best[0], ni.id, best[1].expiresAt, askedAt);
        break;
      } catch (err) {
        if (!isRefusal(err)) throw err;
        this.o.log.info({ spiffeId: ni.id, tokenSha256: best[0], reason: err.code, detail: err.message }, 'node mode: the CA refused the token a renewal was signed with');
        this.refused(best[0], err);
        if (ni.dropped) throw err;
      }
    }
    if (!signed) {
      const now = this.now();
      // No pod token is valid any more: renew with the still-valid SVID itself (mTLS to the CA).
      if (!current || current.notAfter.getTime() <= now) {
        throw new CastellanError('ERR_TOKEN_EXPIRED', `sds: no valid token or certificate left to renew ${ni.id.toString()}; the pod must reconnect with its current token`);
      }
      try {
        signed = await this.o.client().sign({ ...base, clientCertificate: { keyPem: current.keyPem, chainPem: current.chainPem } });
      } catch (err) {
        if (isRefusal(err)) this.drop(ni, err);
        throw err;
      }
    }
    await this.recheckOpenStreams(ni, signedWith);
    if (ni.dropped) throw new CastellanError('ERR_NOT_READY', `sds: ${ni.id.toString()} is no longer served`);
    return signed;
  }

  /** The identity's unexpired token that lives longest, as [sha, token]; expired ones are forgotten. */
  private bestToken(ni: NodeIdentity): [string, PodToken] | undefined {
    const now = this.now();
    let best: [string, PodToken] | undefined;
    for (const [sha, t] of ni.tokens) {
      if (t.expiresAt <= now) ni.tokens.delete(sha);
      else if (!best || t.expiresAt > best[1].expiresAt) best = [sha, t];
    }
    return best;
  }

  /**
   * Asks the CA about the unexpired token of every open stream of `ni` (but `except`, just used to
   * sign): a refused one ends its streams before the renewed key is pushed. A CA that cannot answer
   * fails the renewal (it is retried; the current certificate stays served meanwhile).
   */
  private async recheckOpenStreams(ni: NodeIdentity, except: string | undefined): Promise<void> {
    const now = this.now();
    const shas = new Set(ni.managed.cache.openTags().filter((t): t is string => t !== undefined && t !== except));
    await Promise.all(
      [...shas].map(async (sha) => {
        const t = ni.tokens.get(sha);
        if (!t || t.expiresAt <= now) return; // expired: kept by the certificate (see the class comment)
        try {
          const id = await this.askCa(t.token);
          if (!id.equals(ni.id)) throw new CastellanError('ERR_IDENTITY_CHANGED', `sds: the CA now says a token of ${ni.id.toString()} stands for ${id.toString()}`);
          this.accepted(sha, id, t.expiresAt, now);
        } catch (err) {
          if (isRefusal(err)) this.refused(sha, err);
          else if (isCastellanError(err, 'ERR_IDENTITY_CHANGED')) this.refused(sha, new CastellanError('ERR_TOKEN_REJECTED', err.message, { cause: err }));
          else throw err;
        }
      }),
    );
  }

  private idle(ni: NodeIdentity): void {
    if (ni.dropped || this.closed) return;
    if (ni.idleTimer !== undefined) this.o.clock.clearTimeout(ni.idleTimer);
    ni.idleTimer = this.o.clock.setTimeout(() => {
      ni.idleTimer = undefined;
      if (ni.dropped || ni.managed.cache.watchers > 0) return;
      ni.dropped = true;
      ni.managed.stop();
      this.forget(ni);
      this.o.log.info({ spiffeId: ni.id }, 'node mode: no stream uses this identity any more; released it');
    }, this.o.idleMs ?? 300_000);
  }

  close(): void {
    this.closed = true;
    for (const ni of this.identities.values()) {
      if (ni.idleTimer !== undefined) this.o.clock.clearTimeout(ni.idleTimer);
      ni.managed.stop();
    }
    this.identities.clear();
    this.byToken.clear();
  }
}

import type { Logger } from 'pino';
import { CastellanError, createSvidRequest, isCastellanError, tokenSha256 } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';
import type { AgentMetrics } from './agent-metrics.js';
import type { CaClient } from './ca-client.js';
import { ManagedIdentity } from './managed-identity.js';
import type { RotationOptions } from './rotation.js';
import type { SecretProvider, SecretWatch, StreamCaller } from './secret-source.js';
import { jwtExpiryOrThrow } from './token-file.js';
import { capFromRefusal } from './ttl-cap.js';
import { TokenProofGuard } from './token-proof-guard.js';
import type { TrustBundleState } from './trust-bundle-state.js';
import { generateWorkloadKey } from './workload-key.js';

export interface NodeProviderOptions {
  readonly client: () => CaClient;
  readonly bundles: TrustBundleState;
  readonly agentId: string;
  /** Rotation settings shared by every identity. */
  readonly rotation: Omit<RotationOptions, 'cache' | 'bundle' | 'offerBundle' | 'sign' | 'spiffeId' | 'log' | 'clock'>;
  readonly clock: AgentClock;
  /** How long an identity no stream watches is kept (and renewed), ms. Default 300000. */
  readonly idleMs?: number;
  readonly metrics?: AgentMetrics;
  readonly log: Logger;
  /** Bounds on token proofs (defaults in token-proof-guard.ts); tests make them small. */
  readonly proofLimits?: ConstructorParameters<typeof TokenProofGuard>[1];
}

interface PodToken {
  readonly token: string;
  readonly expiresAt: number;
}

interface NodeIdentity {
  readonly managed: ManagedIdentity;
  /** Tokens that proved this identity, by SHA-256: the newest valid one renews it. */
  readonly tokens: Map<string, PodToken>;
  idleTimer: unknown;
}

/**
 * Node mode (DESIGN §5): one agent serves every pod of a node. Each stream carries its pod's token; the
 * CA proves which identity that token stands for (the agent sends a CSR without a SAN and the CA signs
 * for the identity it authenticated), and the agent remembers token SHA-256 → identity until the
 * token's `exp`. One key and certificate per identity, shared by that identity's streams; a stream only
 * ever gets the identity its own token proved.
 *
 * @example const w = await provider.watch({ token: podToken });
 */
export class NodeProvider implements SecretProvider {
  private readonly byToken = new Map<string, { spiffeId: string; expiresAt: number }>();
  private readonly identities = new Map<string, NodeIdentity>();
  private readonly proving = new Map<string, Promise<string>>();
  private readonly guard: TokenProofGuard;
  /** The lifetime asked for: the configured one, or the CA's maximum once the CA refused the former. */
  private ttlMs: number;
  private closed = false;

  constructor(private readonly o: NodeProviderOptions) {
    this.guard = new TokenProofGuard(() => o.clock.now().getTime(), o.proofLimits);
    this.ttlMs = o.rotation.ttlMs;
  }

  /** The identities held now (for metrics and readiness). */
  get served(): readonly ManagedIdentity[] {
    return [...this.identities.values()].map((i) => i.managed);
  }

  /** The newest still-valid pod token of any identity (node mode's credential for WatchTrustBundle). */
  anyValidToken(): string | undefined {
    const now = this.o.clock.now().getTime();
    let best: PodToken | undefined;
    for (const i of this.identities.values()) for (const t of i.tokens.values()) if (t.expiresAt > now && (!best || t.expiresAt > best.expiresAt)) best = t;
    return best?.token;
  }

  async watch(caller: StreamCaller, signal?: AbortSignal): Promise<SecretWatch> {
    if (this.closed) throw new CastellanError('ERR_NOT_READY', 'sds: the agent is shutting down');
    const token = caller.token;
    if (token === undefined || token === '') {
      throw new CastellanError('ERR_TOKEN_MISSING', 'sds: node mode needs the pod\'s service-account token as "authorization: Bearer <token>" call credentials');
    }
    const sha = tokenSha256(token);
    const now = this.o.clock.now().getTime();
    let exp: number;
    try {
      // Local checks first: garbage, expired and recently refused tokens cost no key and no CA call.
      exp = jwtExpiryOrThrow(token).getTime();
      if (exp <= now) throw new CastellanError('ERR_TOKEN_EXPIRED', 'sds: the stream\'s token has expired; send the pod\'s current token');
      this.guard.checkNotRefused(sha);
    } catch (err) {
      const reason = (err as CastellanError).code;
      this.o.metrics?.nodeTokenRefusals.inc({ reason });
      this.o.log.info({ tokenSha256: sha, reason, peer: caller.peer }, 'node mode: stream token refused locally');
      throw err;
    }
    let spiffeId = this.byToken.get(sha);
    if (spiffeId && (spiffeId.expiresAt <= now || !this.identities.has(spiffeId.spiffeId))) {
      this.byToken.delete(sha);
      spiffeId = undefined;
    }
    const id = spiffeId?.spiffeId ?? (await this.prove(token, sha, exp));
    const ni = this.identities.get(id);
    if (!ni) throw new CastellanError('ERR_NOT_READY', 'sds: the identity was released while the stream started; retry');
    if (ni.idleTimer !== undefined) this.o.clock.clearTimeout(ni.idleTimer);
    ni.idleTimer = undefined;
    ni.tokens.set(sha, { token, expiresAt: exp });
    this.o.log.debug({ tokenSha256: sha, spiffeId: id, peer: caller.peer }, 'node mode: stream authenticated');
    try {
      return await ni.managed.watch(signal);
    } catch (err) {
      // The stream went away (or the identity has no certificate yet): if no other stream holds the
      // identity, its idle timer must run, or the identity would be kept and renewed forever.
      if (ni.managed.cache.watchers === 0) this.idle(id);
      throw err;
    }
  }

  /** Asks the CA which identity `token` stands for; concurrent streams with one token share one request. */
  private prove(token: string, sha: string, exp: number): Promise<string> {
    const pending = this.proving.get(sha);
    if (pending) return pending;
    const p = this.guard.run(() => this.signFor(token, sha, exp)).finally(() => this.proving.delete(sha));
    this.proving.set(sha, p);
    return p;
  }

  private async signFor(token: string, sha: string, exp: number): Promise<string> {
    const now = this.o.clock.now().getTime();
    // Forget proofs of expired tokens (a pod's kubelet rotates its token hourly: this map would only grow).
    for (const [s, e] of this.byToken) if (e.expiresAt <= now) this.byToken.delete(s);
    const key = await generateWorkloadKey(this.o.rotation.keyType);
    const csrDer = await createSvidRequest(key); // no SAN: the CA decides the identity from the token
    const sign = () =>
      this.o.client().sign({
        csrDer,
        ttlSeconds: Math.max(1, Math.round(this.ttlMs / 1000)),
        bundleSequence: this.o.bundles.current?.sequence ?? 0,
        agentId: this.o.agentId,
        token,
      });
    let signed;
    try {
      try {
        signed = await sign();
      } catch (err) {
        const cap = capFromRefusal(err, this.ttlMs);
        if (cap === undefined) throw err;
        // The CA refuses lifetimes above its maximum: a configuration error, said loudly; then ask for
        // the CA's maximum (for this proof and every identity created after it).
        this.o.log.error({ configuredTtlMs: this.o.rotation.ttlMs, caMaxTtlMs: cap, detail: (err as Error).message }, 'node mode: the configured ttl exceeds the CA\'s maximum; requesting the CA\'s maximum instead (lower the agent\'s ttl)');
        this.ttlMs = cap;
        signed = await sign();
      }
    } catch (err) {
      const code = isCastellanError(err) ? err.code : 'ERR_INTERNAL';
      if (code === 'ERR_TOKEN_REJECTED' || code === 'ERR_PERMISSION_DENIED') {
        this.guard.rememberRefused(sha, err as CastellanError);
        this.o.metrics?.nodeTokenRefusals.inc({ reason: code });
        this.o.log.info({ tokenSha256: sha, reason: code, detail: (err as Error).message }, 'node mode: the CA refused a stream\'s token');
        throw err;
      }
      this.o.log.warn({ tokenSha256: sha, reason: code, detail: (err as Error).message }, 'node mode: cannot prove a stream\'s token');
      throw new CastellanError('ERR_NOT_READY', `sds: cannot obtain the pod's certificate: ${(err as Error).message}`, { cause: err });
    }
    if (this.closed) throw new CastellanError('ERR_NOT_READY', 'sds: the agent is shutting down');
    const spiffeId = signed.spiffeId;
    let ni = this.identities.get(spiffeId);
    if (!ni) {
      ni = this.addIdentity(spiffeId);
      ni.managed.rotation.adopt(signed, key);
      // Until a stream takes it (watch() clears this), the identity is idle: a stream cancelled during
      // the proof must not leave it held and renewed forever.
      this.idle(spiffeId);
      this.o.log.info({ spiffeId, tokenSha256: sha }, 'node mode: new identity');
    }
    // else: the identity already has a certificate its streams share; this one only proved the token.
    this.byToken.set(sha, { spiffeId, expiresAt: exp });
    ni.tokens.set(sha, { token, expiresAt: exp });
    return spiffeId;
  }

  private addIdentity(spiffeId: string): NodeIdentity {
    const tokens = new Map<string, PodToken>();
    const ni: NodeIdentity = {
      tokens,
      idleTimer: undefined,
      managed: new ManagedIdentity(
        this.o.bundles,
        {
          ...this.o.rotation,
          ttlMs: this.ttlMs,
          clock: this.o.clock,
          spiffeId,
          log: this.o.log,
          sign: (csrDer, ttlSeconds, current) => {
            const now = this.o.clock.now().getTime();
            let best: PodToken | undefined;
            for (const [sha, t] of tokens) {
              if (t.expiresAt <= now) tokens.delete(sha);
              else if (!best || t.expiresAt > best.expiresAt) best = t;
            }
            const base = { csrDer, ttlSeconds, bundleSequence: this.o.bundles.current?.sequence ?? 0, agentId: this.o.agentId };
            if (best) return this.o.client().sign({ ...base, token: best.token });
            // No pod token is valid any more: renew with the still-valid SVID itself (mTLS to the CA).
            if (current && current.notAfter.getTime() > now) return this.o.client().sign({ ...base, clientCertificate: { keyPem: current.keyPem, chainPem: current.chainPem } });
            return Promise.reject(new CastellanError('ERR_TOKEN_EXPIRED', `sds: no valid token or certificate left to renew ${spiffeId}; the pod must reconnect with its current token`));
          },
        },
        () => this.idle(spiffeId),
      ),
    };
    this.identities.set(spiffeId, ni);
    return ni;
  }

  private idle(spiffeId: string): void {
    const ni = this.identities.get(spiffeId);
    if (!ni || this.closed) return;
    if (ni.idleTimer !== undefined) this.o.clock.clearTimeout(ni.idleTimer);
    ni.idleTimer = this.o.clock.setTimeout(() => {
      if (ni.managed.cache.watchers > 0) return;
      ni.managed.stop();
      this.identities.delete(spiffeId);
      for (const [sha, e] of this.byToken) if (e.spiffeId === spiffeId) this.byToken.delete(sha);
      this.o.log.info({ spiffeId }, 'node mode: no stream uses this identity any more; released it');
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

import type { AuthenticationV1Api, KubeConfig, ObservableMiddleware, V1TokenReview } from '@kubernetes/client-node';
import { decodeJwt, type JWTPayload } from 'jose';
import type { AuthenticatedCaller, Authenticator, AuthErrorCode, CallerCredentials } from './authenticator.js';
import { CastellanError, isCastellanError } from './errors.js';
import { kubernetesWorkloadId } from './kubernetes-identity.js';
import { KUBERNETES_CLOCK_TOLERANCE_SECONDS, parseServiceAccountUsername, tokenSha256 } from './service-account-token.js';
import { TrustDomain } from './spiffe-id.js';

/** `status.user.extra` keys kube-apiserver sets for pod-bound tokens (k8s.io/apiserver serviceaccount/util.go). */
const POD_NAME_KEY = 'authentication.kubernetes.io/pod-name';
const POD_UID_KEY = 'authentication.kubernetes.io/pod-uid';

export interface TokenReviewAuthenticatorOptions {
  readonly trustDomain: TrustDomain;
  /** Sent as `spec.audiences`; the API must confirm at least one in `status.audiences`. Default `['castellan']`. */
  readonly audiences?: readonly string[];
  /** How long a successful review is reused, in ms (never past the token's `exp`). Default 60,000. */
  readonly cacheTtlMs?: number;
  /** Most cached reviews kept; the least recently used goes first. Default 10,000. */
  readonly cacheMaxEntries?: number;
  /** Timeout of one TokenReview call, in ms. Default 10,000. */
  readonly requestTimeoutMs?: number;
  readonly now?: () => Date;
}

type KubernetesClient = typeof import('@kubernetes/client-node');

interface CacheEntry {
  readonly caller: AuthenticatedCaller;
  readonly expiresAt: number;
}

/**
 * Authenticates service-account tokens by asking the Kubernetes API (`POST
 * /apis/authentication.k8s.io/v1/tokenreviews`, docs/architecture.md §2). Successful reviews are cached by the token's
 * SHA-256 until `min(exp, now + cacheTtlMs)`, and concurrent reviews of one token share one API call.
 * The caller loads the KubeConfig (`loadFromCluster()` in a pod, `loadFromFile(path)` elsewhere).
 *
 * @example
 *   const kc = new KubeConfig(); kc.loadFromCluster();
 *   const auth = new TokenReviewAuthenticator(kc, { trustDomain: TrustDomain.of('cluster.local') });
 *   const caller = await auth.authenticate({ token });
 */
export class TokenReviewAuthenticator implements Authenticator {
  readonly kind = 'tokenreview' as const;
  private readonly client: Promise<{ k8s: KubernetesClient; api: AuthenticationV1Api }>;
  private readonly audiences: readonly string[];
  private readonly cacheTtlMs: number;
  private readonly cacheMaxEntries: number;
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  /** Insertion order is recency order: a hit is deleted and re-inserted. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<AuthenticatedCaller>>();

  constructor(
    kc: KubeConfig,
    private readonly options: TokenReviewAuthenticatorOptions,
  ) {
    const p: string[] = [];
    if (!(options.trustDomain instanceof TrustDomain)) p.push('trustDomain must be a TrustDomain (use TrustDomain.of)');
    if (options.audiences !== undefined && (options.audiences.length === 0 || options.audiences.some((a) => typeof a !== 'string' || a === ''))) {
      p.push('audiences must be a non-empty list of non-empty strings');
    }
    for (const [name, v] of [
      ['cacheTtlMs', options.cacheTtlMs],
      ['cacheMaxEntries', options.cacheMaxEntries],
      ['requestTimeoutMs', options.requestTimeoutMs],
    ] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) p.push(`${name} must be a number >= 0`);
    }
    if (typeof kc?.getCurrentCluster !== 'function' || kc.getCurrentCluster() === null) {
      p.push('the KubeConfig has no current cluster; load it first (loadFromCluster() or loadFromFile(path))');
    }
    if (p.length > 0) throw new TypeError(`tokenreview: invalid options: ${p.join('; ')}`);
    // Loaded lazily: @kubernetes/client-node takes ~0.5 s to import, which processes that never call
    // the API (the agent, most CLI commands) should not pay for importing workload-identity.
    this.client = import('@kubernetes/client-node').then((k8s) => ({ k8s, api: kc.makeApiClient(k8s.AuthenticationV1Api) }));
    this.client.catch(() => undefined);
    this.audiences = [...(options.audiences ?? ['castellan'])];
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.cacheMaxEntries = options.cacheMaxEntries ?? 10_000;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.now = options.now ?? (() => new Date());
  }

  /** Number of cached reviews (for metrics). */
  get cacheSize(): number {
    return this.cache.size;
  }

  async authenticate(credentials: CallerCredentials): Promise<AuthenticatedCaller> {
    const token = credentials.token;
    if (token === undefined || token === '') throw fail('ERR_TOKEN_MISSING', 'no bearer token; send "authorization: Bearer <service-account token>"');
    const sha = tokenSha256(token);
    const now = this.now().getTime();

    const hit = this.cache.get(sha);
    if (hit !== undefined) {
      this.cache.delete(sha);
      if (hit.expiresAt > now) {
        this.cache.set(sha, hit);
        return hit.caller;
      }
    }
    const claims = this.precheck(token, sha, now);

    let pending = this.inFlight.get(sha);
    if (pending === undefined) {
      pending = this.review(token, sha).then((caller) => {
        this.remember(sha, caller, claims);
        return caller;
      });
      const settled = pending.finally(() => this.inFlight.delete(sha));
      settled.catch(() => undefined);
      this.inFlight.set(sha, pending);
    }
    return pending;
  }

  /**
   * Refuses, without an API call, tokens that cannot pass: not a JWT, expired, or for none of our
   * audiences. Reading unverified claims is safe here because it can only refuse; it also bounds the
   * cache by `exp`.
   */
  private precheck(token: string, sha: string, now: number): JWTPayload {
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch (cause) {
      throw fail('ERR_TOKEN_MALFORMED', 'token is not a JWT (want header.payload.signature, base64url)', sha, cause);
    }
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= now - KUBERNETES_CLOCK_TOLERANCE_SECONDS * 1000) {
      throw fail('ERR_TOKEN_EXPIRED', 'token has expired (exp); request a fresh token', sha);
    }
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.some((a) => this.audiences.includes(a))) {
      throw fail('ERR_TOKEN_AUDIENCE', `token audiences ${JSON.stringify(aud)} include none of ${JSON.stringify(this.audiences)}; request the token with one of them`, sha);
    }
    return claims;
  }

  private async review(token: string, sha: string): Promise<AuthenticatedCaller> {
    const body: V1TokenReview = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...this.audiences] } };
    const { k8s, api } = await this.client;
    let result: V1TokenReview;
    try {
      result = await api.createTokenReview({ body }, { middleware: [timeoutMiddleware(k8s, this.timeoutMs)], middlewareMergeStrategy: 'append' });
    } catch (err) {
      throw backendError(k8s, err, sha);
    }
    const status = result.status ?? {};
    if (status.authenticated !== true) {
      // status.error comes from the API server's authenticators; keep it out of the client message.
      throw fail('ERR_TOKEN_REJECTED', 'the Kubernetes API did not authenticate the token; request a fresh service-account token', sha, undefined, {
        apiError: scrub(status.error ?? '', token),
      });
    }
    // An API server that does not support audiences ignores spec.audiences and returns none: it did not
    // check them, so we cannot accept the token (TokenReview API, status.audiences).
    const confirmed = status.audiences ?? [];
    if (!confirmed.some((a) => this.audiences.includes(a))) {
      throw fail('ERR_TOKEN_AUDIENCE', `the Kubernetes API did not confirm any of the audiences ${JSON.stringify(this.audiences)} (it returned ${JSON.stringify(confirmed)})`, sha);
    }
    const username = status.user?.username ?? '';
    const sa = parseServiceAccountUsername(username);
    if (sa === undefined) {
      throw fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', `token belongs to ${JSON.stringify(username)}, not a service account (want system:serviceaccount:<namespace>:<name>)`, sha);
    }
    let spiffeId;
    try {
      spiffeId = kubernetesWorkloadId(this.options.trustDomain, sa.namespace, sa.serviceAccount);
    } catch (err) {
      if (!isCastellanError(err)) throw err;
      throw fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', `token names a service account that cannot be a workload identity: ${err.message.replace(/^k8sid: /, '')}`, sha, err);
    }
    const extra = status.user?.extra ?? {};
    const podName = extra[POD_NAME_KEY]?.[0];
    const podUid = extra[POD_UID_KEY]?.[0];
    return {
      spiffeId,
      namespace: sa.namespace,
      serviceAccount: sa.serviceAccount,
      ...(podName && podUid ? { pod: { name: podName, uid: podUid } } : {}),
      tokenSha256: sha,
      authenticator: 'tokenreview',
    };
  }

  private remember(sha: string, caller: AuthenticatedCaller, claims: JWTPayload): void {
    const now = this.now().getTime();
    const byTtl = now + this.cacheTtlMs;
    const expiresAt = typeof claims.exp === 'number' ? Math.min(claims.exp * 1000, byTtl) : byTtl;
    if (expiresAt <= now || this.cacheMaxEntries === 0) return;
    this.cache.delete(sha);
    this.cache.set(sha, { caller, expiresAt });
    while (this.cache.size > this.cacheMaxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}

function timeoutMiddleware(k8s: KubernetesClient, ms: number): ObservableMiddleware {
  return {
    pre: (ctx) => {
      if (ms > 0) ctx.setSignal(AbortSignal.timeout(ms));
      return new k8s.Observable(Promise.resolve(ctx));
    },
    post: (rsp) => new k8s.Observable(Promise.resolve(rsp)),
  };
}

/** Why the review itself failed: never the caller's fault, so "try again later" (or fix our RBAC). */
function backendError(k8s: KubernetesClient, err: unknown, sha: string): CastellanError<AuthErrorCode> {
  // ApiException messages embed the response body; keep only the status code and reason.
  if (err instanceof k8s.ApiException) {
    // The client hands non-2xx bodies over as the raw text of a Status object.
    const body: unknown = typeof err.body === 'string' ? parseJson(err.body) : err.body;
    const reason = isObject(body) && typeof body['reason'] === 'string' ? body['reason'] : '';
    const apiMessage = isObject(body) && typeof body['message'] === 'string' ? body['message'] : '';
    const cause = new Error(`HTTP ${err.code}${reason ? ` ${reason}` : ''}`);
    const context = { tokenSha256: sha, httpStatus: err.code };
    if (err.code === 401) {
      return new CastellanError(
        'ERR_AUTH_BACKEND_UNAVAILABLE',
        "tokenreview: the Kubernetes API refused Castellan's own credentials (401); check the CA's kubeconfig or service-account token",
        { cause, context },
      );
    }
    if (err.code === 403 && apiMessage.includes('"system:anonymous"')) {
      // RBAC for system:anonymous is not the fix: the request carried no credential at all.
      return new CastellanError(
        'ERR_AUTH_BACKEND_UNAVAILABLE',
        "tokenreview: the Kubernetes API sees Castellan as system:anonymous (403): its kubeconfig yields no credential; give the kubeconfig's user a token, tokenFile or client certificate",
        { cause, context },
      );
    }
    if (err.code === 403) {
      return new CastellanError('ERR_AUTH_BACKEND_UNAVAILABLE', 'tokenreview: Castellan may not create TokenReviews (403); grant "tokenreviews: create" (system:auth-delegator)', {
        cause,
        context,
      });
    }
    return new CastellanError('ERR_AUTH_BACKEND_UNAVAILABLE', `tokenreview: the Kubernetes API answered HTTP ${err.code}; try again later`, { cause, context });
  }
  const what = err instanceof Error ? err.message : String(err);
  return new CastellanError('ERR_AUTH_BACKEND_UNAVAILABLE', 'tokenreview: cannot reach the Kubernetes API; try again later', {
    cause: err instanceof Error ? err : new Error(what),
    context: { tokenSha256: sha },
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function scrub(text: string, token: string): string {
  return token.length > 0 ? text.split(token).join('<token>') : text;
}

function fail(code: AuthErrorCode, what: string, sha?: string, cause?: unknown, extra: Record<string, unknown> = {}): CastellanError<AuthErrorCode> {
  const context = { ...(sha === undefined ? {} : { tokenSha256: sha }), ...extra };
  return new CastellanError(code, `tokenreview: ${what}`, cause === undefined ? { context } : { context, cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { AuthenticatedCaller, Authenticator, AuthErrorCode, CallerCredentials } from './authenticator.js';
import { CastellanError, isCastellanError } from './errors.js';
import { KUBERNETES_CLOCK_TOLERANCE_SECONDS, callerFromServiceAccountClaims, tokenSha256 } from './service-account-token.js';
import { httpsGetJson } from './https-json.js';
import type { PodLookup } from './pod-lookup.js';
import { TrustDomain } from './spiffe-id.js';
import { fastKeys, fastVerify } from './jws-fast-path.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** Asymmetric JWS algorithms; `none` and HS* (a shared secret, RFC 8725 §3.1) can never be configured. */
export const JWKS_DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);

/** How to reach the issuer's OIDC discovery document and JWKS. */
export interface JwksDiscoveryOptions {
  /** The discovery document URL. Default `<issuer>/.well-known/openid-configuration` (OIDC Discovery §4). */
  readonly discoveryUrl?: string;
  /** PEM CA certificate(s) that sign the HTTPS endpoints. Default: Node's built-in roots. */
  readonly ca?: string | Buffer;
  /**
   * A bearer token sent with each fetch, read at fetch time (in-cluster, kube-apiserver wants the pod's
   * own service-account token). Always sent to the discovery URL. Sent to `jwks_uri` when it has the
   * discovery URL's origin, or when `ca` is set: Node then trusts only that CA, so the token reaches only a
   * server holding a certificate of the cluster CA (kube-apiserver names `jwks_uri` at its advertise
   * address, another origin than `kubernetes.default.svc`). Without `ca`, a `jwks_uri` on another origin
   * (a public issuer, or a tampered document) is fetched without the token. Default: none.
   */
  readonly bearerToken?: () => string | undefined;
  /** Per-request timeout in ms. Default 10,000. */
  readonly timeoutMs?: number;
}

export interface JwksAuthenticatorOptions {
  readonly trustDomain: TrustDomain;
  /** Expected `iss`, compared exactly, e.g. `https://kubernetes.default.svc.cluster.local`. Required. */
  readonly issuer: string;
  /** The token must carry at least one of these in `aud`. Default `['castellan']`. */
  readonly audiences?: readonly string[];
  /** Accepted JWS `alg` values, a subset of {@link JWKS_DEFAULT_ALGORITHMS}. Default: all of them. */
  readonly algorithms?: readonly string[];
  /** Allowed clock skew for `exp`/`nbf`, in seconds. Default 60 ({@link KUBERNETES_CLOCK_TOLERANCE_SECONDS}). */
  readonly clockToleranceSeconds?: number;
  /** A static key set (the dev issuer). Give this or `discovery`; with neither, discovery under `issuer` is used. */
  readonly jwks?: JSONWebKeySet;
  /** Fetch the key set via OIDC discovery. Default when `jwks` is absent: `{}`. */
  readonly discovery?: JwksDiscoveryOptions;
  /** After a token names an unknown `kid`, the key set is re-fetched at most once per this many ms. Default 10,000. */
  readonly refetchIntervalMs?: number;
  /**
   * Fetched keys older than this are refreshed in the background at the next use (at most once per
   * `refetchIntervalMs`), in ms. Default 3,600,000 (kube-apiserver's `Cache-Control: max-age=3600`).
   */
  readonly jwksMaxAgeMs?: number;
  /**
   * Require the token's pod and service account to exist with the token's UIDs (docs/architecture.md §2), as
   * TokenReview does; the lookups need RBAC `get` on `pods` and `serviceaccounts`. Default false.
   */
  readonly requirePodBinding?: boolean;
  /** Required with `requirePodBinding`; see {@link kubernetesPodLookup}. */
  readonly podLookup?: PodLookup;
  /**
   * Tokens that verified are remembered by SHA-256 until their `exp` (plus the clock tolerance), at most
   * this many: a token presented again is not verified again (docs/architecture.md §2). Refusals are
   * never remembered; the cache is emptied when the key set changes, and not used with
   * `requirePodBinding` (the pod must be looked up each time). Default 10,000; 0: off.
   */
  readonly tokenCacheSize?: number;
  readonly now?: () => Date;
}

interface KeySet {
  readonly getKey: JWTVerifyGetKey;
  /** The keys `fastVerify` may use (ES256, ES384, RS256 by kid). */
  readonly fast: ReturnType<typeof fastKeys>;
  readonly kids: ReadonlySet<string>;
  readonly fetchedAt: number;
}

/**
 * Verifies Kubernetes service-account tokens locally against the issuer's JWKS (docs/architecture.md §2): signature,
 * `alg`, `iss`, `aud`, `exp`, `nbf`, the `kubernetes.io` claim, and optionally the bound pod.
 *
 * @example
 *   const auth = new JwksAuthenticator({
 *     trustDomain: TrustDomain.of('cluster.local'),
 *     issuer: 'https://kubernetes.default.svc.cluster.local',
 *     discovery: { discoveryUrl: 'https://10.96.0.1/.well-known/openid-configuration', ca, bearerToken: readPodToken },
 *   });
 *   const caller = await auth.authenticate({ token });
 */
export class JwksAuthenticator implements Authenticator {
  readonly kind = 'jwks' as const;
  private readonly audiences: readonly string[];
  private readonly algorithms: readonly string[];
  private readonly tolerance: number;
  private readonly refetchIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => Date;
  private keys: KeySet | undefined;
  private fetching: Promise<KeySet> | undefined;
  private lastFetchStartedAt = Number.NEGATIVE_INFINITY;
  private readonly cache: VerifiedTokenCache | undefined;

  constructor(private readonly options: JwksAuthenticatorOptions) {
    const problems = checkOptions(options);
    if (problems.length > 0) throw new TypeError(`jwks: invalid options: ${problems.join('; ')}`);
    this.audiences = [...(options.audiences ?? ['castellan'])];
    this.algorithms = [...(options.algorithms ?? JWKS_DEFAULT_ALGORITHMS)];
    this.tolerance = options.clockToleranceSeconds ?? KUBERNETES_CLOCK_TOLERANCE_SECONDS;
    this.refetchIntervalMs = options.refetchIntervalMs ?? 10_000;
    this.maxAgeMs = options.jwksMaxAgeMs ?? 3_600_000;
    this.now = options.now ?? (() => new Date());
    if (options.jwks !== undefined) this.keys = keySet(options.jwks, Number.POSITIVE_INFINITY, 'jwks: the static key set');
    const cacheSize = options.tokenCacheSize ?? 10_000;
    this.cache = cacheSize > 0 && options.requirePodBinding !== true ? new VerifiedTokenCache(cacheSize) : undefined;
  }

  async authenticate(credentials: CallerCredentials): Promise<AuthenticatedCaller> {
    const token = credentials.token;
    if (token === undefined || token === '') throw fail('ERR_TOKEN_MISSING', 'no bearer token; send "authorization: Bearer <service-account token>"');
    const sha = tokenSha256(token);
    const cached = this.cache?.get(sha, Math.floor(this.now().getTime() / 1000));
    if (cached !== undefined && this.keys !== undefined) {
      // Stale keys are refreshed as for any token; the refresh empties the cache.
      this.refreshIfStale(sha, this.keys);
      return cached;
    }
    // The common token is accepted without jose: its header can hold no `crit` and its `iss` is the
    // issuer, so the checks below would pass. Anything else, and every refusal, takes the path below it.
    const payload = (this.keys !== undefined ? await this.fastPath(token, sha, this.keys) : undefined) ?? (await this.checkedPayload(token, sha));
    this.checkIssuedAt(payload, sha);
    const caller = callerFromServiceAccountClaims(this.options.trustDomain, payload, { authenticator: 'jwks', tokenSha256: sha, module: 'jwks' });
    if (this.options.requirePodBinding === true) await this.checkPodBinding(caller, payload, sha);
    // jose refuses a token once exp <= now - tolerance: remembered until then, not a second longer.
    if (typeof payload.exp === 'number') this.cache?.set(sha, caller, payload.exp + this.tolerance);
    return caller;
  }

  /** Claims of a token the fast path accepts (jws-fast-path.ts), or undefined. */
  private fastPath(token: string, sha: string, keys: KeySet): Promise<JWTPayload | undefined> {
    this.refreshIfStale(sha, keys);
    return fastVerify(token, keys.fast, { issuer: this.options.issuer, audiences: this.audiences, algorithms: this.algorithms, toleranceSeconds: this.tolerance }, this.now());
  }

  /** The full checks with jose, in the order that decides which refusal a bad token gets. */
  private async checkedPayload(token: string, sha: string): Promise<JWTPayload> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch (cause) {
      throw fail('ERR_TOKEN_MALFORMED', 'token is not a JWT (want header.payload.signature, base64url)', sha, cause);
    }
    checkCritical(token, sha);
    // Like kube-apiserver (jwt.go hasCorrectIssuer), a token of another issuer is refused before any key
    // lookup, so foreign tokens never trigger a JWKS re-fetch. Verified again by jwtVerify below.
    if (unverified.iss !== this.options.issuer) throw this.issuerError(unverified.iss, sha);
    return this.verify(token, sha);
  }

  /**
   * kube-apiserver refuses a token issued in the future beyond its leeway (claims.go validates with
   * go-jose's ValidateWithLeeway, one minute); jose checks `iat` only against a maximum age, so the
   * same rule is applied here for the two modes to agree.
   */
  private checkIssuedAt(payload: JWTPayload, sha: string): void {
    if (typeof payload.iat !== 'number') return;
    const aheadSeconds = payload.iat - this.now().getTime() / 1000;
    if (aheadSeconds > this.tolerance) {
      throw fail(
        'ERR_TOKEN_NOT_YET_VALID',
        `token was issued ${Math.round(aheadSeconds)} s in the future (iat), more than the ${this.tolerance} s clock tolerance; check the clocks of the issuer and the CA`,
        sha,
      );
    }
  }

  private async verify(token: string, sha: string): Promise<JWTPayload> {
    const keys = await this.currentKeys(sha);
    try {
      return await this.verifyWith(token, keys);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw this.mapError(err, sha, token);
    }
    const kid = decodeProtectedHeader(token).kid;
    if (kid !== undefined && keys.kids.has(kid)) {
      throw fail('ERR_TOKEN_ALGORITHM', `token "alg" does not match the algorithm or key type of key "${kid}"`, sha);
    }
    // A new kid usually means the issuer rotated its key (RFC 7517 §5, kube-apiserver key rotation):
    // re-fetch once, rate-limited so that a stream of forged kids cannot hammer the issuer.
    const now = this.now().getTime();
    if (this.options.jwks !== undefined || now - this.lastFetchStartedAt < this.refetchIntervalMs) throw this.unknownKey(kid, sha);
    const fresh = await this.fetchKeys(sha);
    try {
      return await this.verifyWith(token, fresh);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey) throw this.unknownKey(kid, sha);
      throw this.mapError(err, sha, token);
    }
  }

  private async verifyWith(token: string, keys: KeySet): Promise<JWTPayload> {
    const options: JWTVerifyOptions = {
      issuer: this.options.issuer,
      audience: [...this.audiences],
      algorithms: [...this.algorithms],
      clockTolerance: this.tolerance,
      currentDate: this.now(),
      requiredClaims: ['exp', 'sub'],
    };
    try {
      return (await jwtVerify(token, keys.getKey, options)).payload;
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
      // Several keys fit a token without `kid`: the error iterates them (jose's documented pattern).
      let last: unknown = err;
      for await (const key of err) {
        try {
          return (await jwtVerify(token, key, options)).payload;
        } catch (inner) {
          last = inner;
          if (!(inner instanceof joseErrors.JWSSignatureVerificationFailed)) break;
        }
      }
      throw last;
    }
  }

  private async currentKeys(sha: string): Promise<KeySet> {
    const keys = this.keys;
    if (keys === undefined) return this.fetchKeys(sha);
    this.refreshIfStale(sha, keys);
    return keys;
  }

  private refreshIfStale(sha: string, keys: KeySet): void {
    const now = this.now().getTime();
    if (now - keys.fetchedAt >= this.maxAgeMs && now - this.lastFetchStartedAt >= this.refetchIntervalMs) {
      // Refresh in the background and answer with the keys we have: a slow or unreachable issuer must
      // not add latency to every request, and stale keys beat no keys during an outage.
      this.fetchKeys(sha).catch(() => undefined);
    }
  }

  /** One fetch at a time; concurrent callers share it. */
  private fetchKeys(sha: string): Promise<KeySet> {
    if (this.fetching === undefined) {
      this.lastFetchStartedAt = this.now().getTime();
      this.fetching = this.discover()
        .then((jwks) => {
          const set = keySet(jwks, this.now().getTime(), 'jwks: the issuer key set');
          this.keys = set;
          // A token verified with a key the issuer no longer publishes must be verified again.
          this.cache?.clear();
          return set;
        })
        .finally(() => {
          this.fetching = undefined;
        });
    }
    return this.fetching.catch((err: unknown) => {
      if (isCastellanError(err)) throw new CastellanError(err.code, err.message, { cause: err.cause, context: { ...err.context, tokenSha256: sha } });
      throw err;
    });
  }

  private async discover(): Promise<JSONWebKeySet> {
    const d = this.options.discovery ?? {};
    const discoveryUrl = new URL(d.discoveryUrl ?? `${this.options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
    const doc = await httpsGetJson(discoveryUrl, d, true);
    if (!isObject(doc)) throw backend(`discovery document at ${discoveryUrl.href} is not a JSON object`);
    // OIDC Discovery §4.3: the document's issuer must be exactly the issuer we were configured with.
    if (doc['issuer'] !== this.options.issuer) {
      throw backend(`discovery document at ${discoveryUrl.href} names issuer ${JSON.stringify(doc['issuer'])}, want "${this.options.issuer}"; fix the issuer option`);
    }
    const jwksUri = doc['jwks_uri'];
    let jwksUrl: URL;
    try {
      jwksUrl = new URL(String(jwksUri));
    } catch {
      throw backend(`discovery document at ${discoveryUrl.href} has no valid jwks_uri`);
    }
    if (jwksUrl.protocol !== 'https:') throw backend(`jwks_uri ${jwksUrl.href} is not https`);
    const jwks = await httpsGetJson(jwksUrl, d, jwksUrl.origin === discoveryUrl.origin || d.ca !== undefined);
    if (!isObject(jwks) || !Array.isArray(jwks['keys'])) throw backend(`${jwksUrl.href} did not return a JWK set ({"keys": [...]})`);
    return jwks as unknown as JSONWebKeySet;
  }

  /**
   * The checks TokenReview makes of a bound token (kube-apiserver pkg/serviceaccount/claims.go): the pod
   * and the service account the token names still exist with the token's UIDs, and neither was deleted
   * longer ago than the leeway. A service account deleted (or re-created) while its pod still runs must
   * not keep its identity.
   */
  private async checkPodBinding(caller: AuthenticatedCaller, payload: JWTPayload, sha: string): Promise<void> {
    const pod = caller.pod;
    if (pod === undefined) {
      throw fail('ERR_TOKEN_POD_BINDING', 'token is not bound to a pod, and pod binding is required; use a projected service-account token', sha);
    }
    const { namespace, serviceAccount } = caller;
    const saUid = serviceAccountUid(payload);
    if (saUid === undefined) {
      throw fail('ERR_TOKEN_POD_BINDING', 'token "kubernetes.io".serviceaccount has no uid, so its binding cannot be checked; present a token minted by kube-apiserver', sha);
    }
    const lookup = this.options.podLookup!;
    let found: [Awaited<ReturnType<PodLookup['pod']>>, Awaited<ReturnType<PodLookup['serviceAccount']>>];
    try {
      found = await Promise.all([lookup.pod(namespace, pod.name), lookup.serviceAccount(namespace, serviceAccount)]);
    } catch (err) {
      if (isCastellanError(err)) throw err;
      throw fail('ERR_AUTH_BACKEND_UNAVAILABLE', `cannot look up pod ${namespace}/${pod.name} and its service account to check the token binding; try again`, sha, err, {
        namespace,
        pod: pod.name,
      });
    }
    const [livePod, liveSa] = found;
    const deletedBefore = this.now().getTime() - this.tolerance * 1000;
    const podContext = { namespace, pod: pod.name };
    if (livePod === undefined) {
      throw fail('ERR_TOKEN_POD_BINDING', `token is bound to pod ${namespace}/${pod.name}, which no longer exists`, sha, undefined, podContext);
    }
    if (livePod.uid !== pod.uid) {
      throw fail('ERR_TOKEN_POD_BINDING', `token is bound to pod ${namespace}/${pod.name} uid ${pod.uid}, but that pod now has uid ${livePod.uid}`, sha, undefined, podContext);
    }
    if (livePod.deletionTimestamp !== undefined && livePod.deletionTimestamp.getTime() < deletedBefore) {
      throw fail('ERR_TOKEN_POD_BINDING', `token is bound to pod ${namespace}/${pod.name}, which is being deleted`, sha, undefined, podContext);
    }
    const saContext = { namespace, serviceAccount };
    if (liveSa === undefined) {
      throw fail(
        'ERR_TOKEN_POD_BINDING',
        `token was issued to service account ${namespace}/${serviceAccount}, which no longer exists; the pod must be re-created with an existing service account`,
        sha,
        undefined,
        saContext,
      );
    }
    if (liveSa.uid !== saUid) {
      throw fail(
        'ERR_TOKEN_POD_BINDING',
        `token was issued to service account ${namespace}/${serviceAccount} uid ${saUid}, but that service account now has uid ${liveSa.uid} (deleted and re-created); the pod must be re-created to get a token of the new one`,
        sha,
        undefined,
        saContext,
      );
    }
    if (liveSa.deletionTimestamp !== undefined && liveSa.deletionTimestamp.getTime() < deletedBefore) {
      throw fail('ERR_TOKEN_POD_BINDING', `token was issued to service account ${namespace}/${serviceAccount}, which is being deleted`, sha, undefined, saContext);
    }
  }

  private issuerError(iss: unknown, sha: string): CastellanError<AuthErrorCode> {
    return fail('ERR_TOKEN_ISSUER', `token issuer ${JSON.stringify(iss ?? null)} is not the configured issuer "${this.options.issuer}"`, sha);
  }

  private unknownKey(kid: string | undefined, sha: string): CastellanError<AuthErrorCode> {
    const which = kid === undefined ? 'token has no "kid" and no key of the issuer fits it' : `token is signed with key "${kid}", which the issuer does not publish`;
    return fail('ERR_TOKEN_UNKNOWN_KEY', `${which}; if the issuer rotated its key, retry shortly`, sha, undefined, kid === undefined ? {} : { kid });
  }

  /** jose errors → our codes (jose's `claim` tells which check failed). */
  private mapError(err: unknown, sha: string, token: string): CastellanError<AuthErrorCode> {
    if (isCastellanError<AuthErrorCode>(err)) return err;
    if (err instanceof joseErrors.JWTExpired) return fail('ERR_TOKEN_EXPIRED', 'token has expired (exp); request a fresh token', sha, err);
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      const missing = err.reason === 'missing';
      switch (err.claim) {
        case 'iss':
          return this.issuerError(err.payload.iss, sha);
        case 'aud':
          return fail(
            'ERR_TOKEN_AUDIENCE',
            `token audiences ${JSON.stringify(err.payload.aud ?? [])} include none of ${JSON.stringify(this.audiences)}; request the token with one of them`,
            sha,
            err,
          );
        case 'nbf':
          return missing || err.reason === 'invalid'
            ? fail('ERR_TOKEN_MALFORMED', 'token "nbf" claim is not a number', sha, err)
            : fail('ERR_TOKEN_NOT_YET_VALID', 'token is not valid yet (nbf is in the future); check the clocks', sha, err);
        case 'sub':
          return fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token has no "sub" claim; present a Kubernetes service-account token', sha, err);
        default:
          return fail('ERR_TOKEN_MALFORMED', `token "${err.claim}" claim is ${missing ? 'missing' : 'invalid'}`, sha, err);
      }
    }
    if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
      return fail('ERR_TOKEN_ALGORITHM', `token "alg" ${JSON.stringify(headerAlg(token))} is not one of the allowed algorithms (${this.algorithms.join(', ')})`, sha, err);
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return fail('ERR_TOKEN_SIGNATURE', 'token signature does not verify with the issuer key', sha, err);
    if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return fail('ERR_TOKEN_MALFORMED', 'token is not a well-formed signed JWT', sha, err);
    if (err instanceof joseErrors.JWKInvalid || err instanceof joseErrors.JWKSInvalid) {
      return fail('ERR_AUTH_BACKEND_UNAVAILABLE', 'the issuer publishes a key that cannot be used; check its JWKS', sha, err);
    }
    if (err instanceof joseErrors.JOSEError) return fail('ERR_TOKEN_MALFORMED', 'token cannot be verified', sha, err);
    throw err;
  }
}

function checkOptions(o: JwksAuthenticatorOptions): string[] {
  const p: string[] = [];
  if (!(o.trustDomain instanceof TrustDomain)) p.push('trustDomain must be a TrustDomain (use TrustDomain.of)');
  if (typeof o.issuer !== 'string' || o.issuer === '') p.push('issuer is required');
  if (o.audiences !== undefined && (o.audiences.length === 0 || o.audiences.some((a) => typeof a !== 'string' || a === ''))) {
    p.push('audiences must be a non-empty list of non-empty strings');
  }
  if (o.algorithms !== undefined) {
    if (o.algorithms.length === 0) p.push('algorithms must not be empty');
    for (const alg of o.algorithms) {
      if (!JWKS_DEFAULT_ALGORITHMS.includes(alg))
        p.push(`algorithm ${JSON.stringify(alg)} is not allowed; use asymmetric ones: ${JWKS_DEFAULT_ALGORITHMS.join(', ')} ("none" and HS* never)`);
    }
  }
  for (const [name, v] of [
    ['clockToleranceSeconds', o.clockToleranceSeconds],
    ['refetchIntervalMs', o.refetchIntervalMs],
    ['jwksMaxAgeMs', o.jwksMaxAgeMs],
    ['discovery.timeoutMs', o.discovery?.timeoutMs],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) p.push(`${name} must be a number >= 0`);
  }
  if (o.jwks !== undefined && o.discovery !== undefined) p.push('give either jwks (a static key set) or discovery, not both');
  if (o.jwks === undefined) {
    try {
      const url = new URL(o.discovery?.discoveryUrl ?? `${o.issuer}/.well-known/openid-configuration`);
      if (url.protocol !== 'https:') p.push(`discovery URL ${url.href} must be https`);
    } catch {
      p.push('discovery needs an https issuer URL or discovery.discoveryUrl');
    }
  }
  if (o.requirePodBinding === true && (typeof o.podLookup?.pod !== 'function' || typeof o.podLookup.serviceAccount !== 'function')) {
    p.push('requirePodBinding needs podLookup (e.g. kubernetesPodLookup(kubeConfig))');
  }
  return p;
}

function keySet(jwks: JSONWebKeySet, fetchedAt: number, what: string): KeySet {
  let getKey: JWTVerifyGetKey;
  try {
    getKey = createLocalJWKSet(jwks);
  } catch (cause) {
    if (fetchedAt === Number.POSITIVE_INFINITY) throw new TypeError(`${what} is not a valid JWK set`, { cause });
    throw backend(`${what.replace(/^jwks: /, '')} is not a valid JWK set`, cause);
  }
  const kids = new Set(jwks.keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : [])));
  return { getKey, kids, fetchedAt, fast: fastKeys(jwks) };
}

function backend(what: string, cause?: unknown): CastellanError<AuthErrorCode> {
  return new CastellanError('ERR_AUTH_BACKEND_UNAVAILABLE', `jwks: ${what}`, cause === undefined ? {} : { cause });
}

function fail(code: AuthErrorCode, what: string, sha?: string, cause?: unknown, extra: Record<string, unknown> = {}): CastellanError<AuthErrorCode> {
  const context = { ...(sha === undefined ? {} : { tokenSha256: sha }), ...extra };
  return new CastellanError(code, `jwks: ${what}`, cause === undefined ? { context } : { context, cause });
}

/**
 * RFC 7515 §4.1.11: a recipient must refuse a JWS whose `crit` names extensions it does not implement.
 * Castellan implements none, and kube-apiserver never writes `crit`; refusing here, before any key
 * lookup, gives the real reason instead of jose's generic "not supported".
 */
function checkCritical(token: string, sha: string): void {
  let crit: unknown;
  try {
    crit = decodeProtectedHeader(token).crit;
  } catch (cause) {
    throw fail('ERR_TOKEN_MALFORMED', 'token header is not a base64url JSON object', sha, cause);
  }
  if (crit === undefined) return;
  throw fail(
    'ERR_TOKEN_CRITICAL_HEADER',
    `token header "crit" lists ${JSON.stringify(crit)}: critical JWS extensions Castellan does not implement, so it must refuse the token (RFC 7515 §4.1.11); Kubernetes service-account tokens carry no "crit"`,
    sha,
  );
}

/** `kubernetes.io.serviceaccount.uid` of verified claims, if it is a non-empty string. */
function serviceAccountUid(payload: JWTPayload): string | undefined {
  const k8s = payload['kubernetes.io'];
  const sa = isObject(k8s) ? k8s['serviceaccount'] : undefined;
  const uid = isObject(sa) ? sa['uid'] : undefined;
  return typeof uid === 'string' && uid !== '' ? uid : undefined;
}

function headerAlg(token: string): unknown {
  try {
    return decodeProtectedHeader(token).alg ?? null;
  } catch {
    return null;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

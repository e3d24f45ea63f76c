import { createHash, createPublicKey, hash, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWTPayload } from 'jose';
import type { AuthenticatedCaller, AuthenticatorKind, AuthErrorCode } from './authenticator.js';
import { CastellanError, isCastellanError } from './errors.js';
import { kubernetesWorkloadId } from './kubernetes-identity.js';
import type { TrustDomain } from './spiffe-id.js';

/** `{name, uid}` of an object a token is bound to (kube-apiserver pkg/serviceaccount/claims.go `ref`). */
export interface KubernetesObjectRef {
  readonly name: string;
  readonly uid: string;
}

/** The `kubernetes.io` private claim of a projected service-account token. */
export interface KubernetesPrivateClaim {
  readonly namespace: string;
  readonly serviceaccount: KubernetesObjectRef;
  /** Set when the token is bound to a pod (projected volumes always are). */
  readonly pod?: KubernetesObjectRef;
  /** The pod's node (ServiceAccountTokenPodNodeInfo), or the node a node-bound token names. */
  readonly node?: KubernetesObjectRef;
  /** Set instead of `pod` for tokens bound to a Secret. */
  readonly secret?: KubernetesObjectRef;
  /** Seconds since the epoch after which kube-apiserver flags the token as stale (legacy rollout). */
  readonly warnafter?: number;
}

/**
 * The claims of a Kubernetes projected service-account token, as kube-apiserver writes them
 * (pkg/serviceaccount/claims.go `Claims`): registered claims plus the `kubernetes.io` private claim.
 */
export interface ServiceAccountTokenClaims extends JWTPayload {
  readonly iss: string;
  /** `system:serviceaccount:<namespace>:<name>` */
  readonly sub: string;
  readonly aud: string[];
  readonly exp: number;
  readonly iat: number;
  readonly nbf: number;
  /** A UUID (ServiceAccountTokenJTI, on by default since Kubernetes 1.30). */
  readonly jti?: string;
  readonly 'kubernetes.io': KubernetesPrivateClaim;
}

/** JWS algorithms the dev issuer signs with, chosen by key type as kube-apiserver does (pkg/serviceaccount/jwt.go). */
export type ServiceAccountSigningAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256';

const USERNAME_PREFIX = 'system:serviceaccount:';

/**
 * kube-apiserver checks service-account token times with go-jose's `jwt.DefaultLeeway`, one minute
 * (pkg/serviceaccount/claims.go `public.Validate`; go-jose jwt/validation.go `DefaultLeeway = 1.0 * time.Minute`).
 */
export const KUBERNETES_CLOCK_TOLERANCE_SECONDS = 60;

/**
 * The Kubernetes user name of a service account (k8s.io/apiserver serviceaccount.MakeUsername).
 *
 * @example serviceAccountUsername('shop', 'cart'); // 'system:serviceaccount:shop:cart'
 */
export function serviceAccountUsername(namespace: string, serviceAccount: string): string {
  return `${USERNAME_PREFIX}${namespace}:${serviceAccount}`;
}

/**
 * Splits a service-account user name; undefined for any other user (k8s.io/apiserver
 * serviceaccount.SplitUsername, without the name validation that kubernetesWorkloadId does).
 *
 * @example parseServiceAccountUsername('system:serviceaccount:shop:cart'); // { namespace: 'shop', serviceAccount: 'cart' }
 */
export function parseServiceAccountUsername(username: string): { namespace: string; serviceAccount: string } | undefined {
  if (typeof username !== 'string' || !username.startsWith(USERNAME_PREFIX)) return undefined;
  const parts = username.slice(USERNAME_PREFIX.length).split(':');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
  return { namespace: parts[0]!, serviceAccount: parts[1]! };
}

/**
 * Lowercase hex SHA-256 of a token: what logs, errors and the ledger hold instead of the token.
 *
 * @example tokenSha256('eyJ...'); // '9f86d0…'
 */
export function tokenSha256(token: string): string {
  // One-shot hash (Node >= 20.12): no Hash object per request (docs/architecture.md §4, the hot path).
  return hash('sha256', token, 'hex');
}

/**
 * Turns the verified claims of a service-account token into the caller they identify. The claims must
 * already be verified (signature, issuer, audience, time); this checks their shape and that `sub`
 * agrees with the `kubernetes.io` claim. Throws ERR_TOKEN_NOT_SERVICE_ACCOUNT or ERR_TOKEN_MALFORMED.
 *
 * @example
 *   const { payload } = await jwtVerify(token, keys, { issuer, audience: 'castellan' });
 *   callerFromServiceAccountClaims(TrustDomain.of('cluster.local'), payload, { authenticator: 'jwks' }).spiffeId.toString();
 *   // 'spiffe://cluster.local/ns/shop/sa/cart'
 */
export function callerFromServiceAccountClaims(
  trustDomain: TrustDomain,
  claims: JWTPayload,
  o: {
    authenticator: AuthenticatorKind;
    /** Recorded on the caller and in error context. */
    tokenSha256?: string;
    /** Prefix of error messages, the calling module (`jwks`). Default `satoken`. */
    module?: string;
  },
): AuthenticatedCaller {
  const mod = o.module ?? 'satoken';
  const context = o.tokenSha256 === undefined ? {} : { tokenSha256: o.tokenSha256 };
  const fail = (code: AuthErrorCode, what: string, cause?: unknown): CastellanError<AuthErrorCode> =>
    new CastellanError(code, `${mod}: ${what}`, cause === undefined ? { context } : { context, cause });

  const k8s = claims['kubernetes.io'];
  if (k8s === undefined) {
    throw fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token has no "kubernetes.io" claim; present a Kubernetes service-account token (a projected token)');
  }
  if (!isObject(k8s)) throw fail('ERR_TOKEN_MALFORMED', 'token "kubernetes.io" claim is not an object');
  const namespace = k8s['namespace'];
  const sa = k8s['serviceaccount'];
  if (typeof namespace !== 'string' || namespace === '' || !isObject(sa) || typeof sa['name'] !== 'string' || sa['name'] === '') {
    throw fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token "kubernetes.io" claim lacks namespace or serviceaccount.name; it does not name a service account');
  }
  const serviceAccount = sa['name'];
  const want = serviceAccountUsername(namespace, serviceAccount);
  // kube-apiserver writes sub = MakeUsername(ns, sa) (claims.go); a token where they disagree was not minted by it.
  if (claims.sub !== want) {
    throw fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', `token subject ${JSON.stringify(claims.sub ?? null)} does not match its "kubernetes.io" claim (want "${want}")`);
  }
  const pod = readRef(k8s['pod']);
  if (pod === null) throw fail('ERR_TOKEN_MALFORMED', 'token "kubernetes.io".pod claim must be {name, uid} strings');

  let spiffeId;
  try {
    spiffeId = kubernetesWorkloadId(trustDomain, namespace, serviceAccount);
  } catch (err) {
    if (!isCastellanError(err)) throw err;
    throw fail('ERR_TOKEN_NOT_SERVICE_ACCOUNT', `token names a service account that cannot be a workload identity: ${err.message.replace(/^k8sid: /, '')}`, err);
  }
  return {
    spiffeId,
    namespace,
    serviceAccount,
    ...(pod === undefined ? {} : { pod }),
    ...(o.tokenSha256 === undefined ? {} : { tokenSha256: o.tokenSha256 }),
    authenticator: o.authenticator,
  };
}

/** Options of {@link mintServiceAccountToken}. */
export interface MintServiceAccountTokenOptions {
  /** `iss`, e.g. `https://kubernetes.default.svc.cluster.local`. */
  readonly issuer: string;
  /** `aud`, at least one, e.g. `['castellan']`. */
  readonly audiences: readonly string[];
  readonly namespace: string;
  readonly serviceAccount: string;
  /** `serviceaccount.uid`. Default: a UUID derived from issuer, namespace and name, so it is stable per account. */
  readonly serviceAccountUid?: string;
  /** The pod the token is bound to, as a projected volume token is. Default: none. */
  readonly pod?: KubernetesObjectRef;
  /** The pod's node. Default: none. */
  readonly node?: KubernetesObjectRef;
  /** Lifetime in seconds (kube-apiserver accepts 600 s and more for projected tokens). */
  readonly ttlSeconds: number;
  /** Issue time. Default: now. */
  readonly now?: Date;
}

/**
 * Signs a token shaped exactly like a Kubernetes projected service-account token: header `{alg, kid}`,
 * registered claims `aud` (array), `exp`, `iat`, `iss`, `jti`, `nbf`, `sub` and the `kubernetes.io`
 * claim. ES256/ES384/ES512 for EC P-256/P-384/P-521 keys, RS256 for RSA (as kube-apiserver). Used by
 * `castellan token mint` for the local dev issuer.
 *
 * @example
 *   const token = await mintServiceAccountToken(privateKey, await jwkKeyId(privateKey), {
 *     issuer: 'https://kubernetes.default.svc.cluster.local', audiences: ['castellan'],
 *     namespace: 'shop', serviceAccount: 'cart', ttlSeconds: 3600,
 *   });
 */
export async function mintServiceAccountToken(privateKey: KeyObject, kid: string, o: MintServiceAccountTokenOptions): Promise<string> {
  if (privateKey?.type !== 'private') throw new TypeError('satoken: mintServiceAccountToken needs a private KeyObject');
  const alg = signingAlgorithmFor(privateKey);
  if (typeof kid !== 'string' || kid === '') throw new TypeError('satoken: kid must be a non-empty string');
  if (typeof o.issuer !== 'string' || o.issuer === '') throw new TypeError('satoken: issuer must be a non-empty string');
  if (!Array.isArray(o.audiences) || o.audiences.length === 0 || o.audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError('satoken: audiences must be a non-empty list of non-empty strings');
  }
  if (typeof o.namespace !== 'string' || o.namespace === '' || typeof o.serviceAccount !== 'string' || o.serviceAccount === '') {
    throw new TypeError('satoken: namespace and serviceAccount must be non-empty strings');
  }
  if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds <= 0) throw new TypeError(`satoken: ttlSeconds ${o.ttlSeconds} must be a positive whole number`);
  for (const [what, ref] of [
    ['pod', o.pod],
    ['node', o.node],
  ] as const) {
    if (ref !== undefined && (typeof ref.name !== 'string' || ref.name === '' || typeof ref.uid !== 'string' || ref.uid === '')) {
      throw new TypeError(`satoken: ${what} must be {name, uid} non-empty strings`);
    }
  }

  const iat = Math.floor((o.now ?? new Date()).getTime() / 1000);
  const k8s: KubernetesPrivateClaim = {
    namespace: o.namespace,
    ...(o.node === undefined ? {} : { node: { name: o.node.name, uid: o.node.uid } }),
    ...(o.pod === undefined ? {} : { pod: { name: o.pod.name, uid: o.pod.uid } }),
    serviceaccount: { name: o.serviceAccount, uid: o.serviceAccountUid ?? stableUid(o.issuer, o.namespace, o.serviceAccount) },
  };
  // go-jose marshals the merged claims as a map, so kube-apiserver's payload keys come out sorted;
  // build it in that order so a minted token is byte-for-byte shaped like a real one.
  const claims: ServiceAccountTokenClaims = {
    aud: [...o.audiences],
    exp: iat + o.ttlSeconds,
    iat,
    iss: o.issuer,
    jti: randomUUID(),
    'kubernetes.io': k8s,
    nbf: iat,
    sub: serviceAccountUsername(o.namespace, o.serviceAccount),
  };
  return new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(privateKey);
}

/**
 * The JWS algorithm for a signing key: ES256/ES384/ES512 by EC curve, RS256 for RSA. Other keys throw TypeError.
 *
 * @example signingAlgorithmFor(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey); // 'ES256'
 */
export function signingAlgorithmFor(key: KeyObject): ServiceAccountSigningAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  throw new TypeError(`satoken: cannot sign service-account tokens with a ${key.asymmetricKeyType ?? 'unknown'} key; use EC P-256/P-384/P-521 or RSA`);
}

/**
 * A stable key ID for a public (or private) key: its RFC 7638 JWK thumbprint (SHA-256, base64url).
 *
 * @example await jwkKeyId(publicKey); // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
 */
export async function jwkKeyId(key: KeyObject): Promise<string> {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.type !== 'public') throw new TypeError('satoken: jwkKeyId needs an asymmetric key');
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}

/** `undefined` when absent, `null` when present but not a `{name, uid}` pair of non-empty strings. */
function readRef(value: unknown): KubernetesObjectRef | undefined | null {
  if (value === undefined) return undefined;
  if (!isObject(value)) return null;
  const { name, uid } = value;
  if (typeof name !== 'string' || name === '' || typeof uid !== 'string' || uid === '') return null;
  return { name, uid };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// A name-based UUID (RFC 9562 §5.8 layout, version 8) so that every token the dev issuer mints for one
// account carries the same uid, as a real ServiceAccount object's uid would be.
function stableUid(issuer: string, namespace: string, name: string): string {
  const h = createHash('sha256').update(`${issuer}\n${namespace}\n${name}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

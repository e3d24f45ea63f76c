import type { JwtAuthority } from '../workload-identity/index.js';

/**
 * The contract between the agent's identity side (CA client, key, cache, rotation) and the servers
 * that hand secrets to workloads (Envoy SDS, SPIFFE Workload API). The servers know nothing about the
 * CA; the identity side knows nothing about gRPC streams to workloads.
 */

/** A workload's X509-SVID with its private key, as served to one workload. Immutable. */
export interface WorkloadSvid {
  /** `spiffe://td/ns/NS/sa/SA` */
  readonly spiffeId: string;
  /** Leaf first, then intermediates up to (not including) the root, DER. */
  readonly chainDer: readonly Buffer[];
  /** The same chain as concatenated PEM (what Envoy's `certificate_chain` takes). */
  readonly chainPem: string;
  /** PKCS#8 DER (what the Workload API's `x509_svid_key` takes). Never logged, never written to disk. */
  readonly keyPkcs8Der: Buffer;
  /** PKCS#8 PEM (what Envoy's `private_key` takes). */
  readonly keyPem: string;
  /** Lowercase hex, no leading zeros stripped beyond DER's own. */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The roots a workload trusts for one trust domain. Immutable. */
export interface TrustBundle {
  /** Trust domain name, e.g. `example.org` (no scheme). */
  readonly trustDomain: string;
  /** The CA's bundle sequence (grows by one for every change of the root set). */
  readonly sequence: number;
  /** Every root, DER, in the CA's order. */
  readonly rootsDer: readonly Buffer[];
  /** The same roots as concatenated PEM (what Envoy's `trusted_ca` takes). */
  readonly rootsPem: string;
  /** The trust domain's JWT-SVID keys (docs/jwt-svid.md); absent or empty: it issues none (or an older CA). */
  readonly jwtAuthorities?: readonly JwtAuthority[];
  /**
   * Own trust domain only: the bundles of federated trust domains (docs/federation.md), which the
   * snapshot serves after the own one.
   */
  readonly federated?: readonly TrustBundle[];
}

/** A JWT-SVID as the agent hands it to a workload (FetchJWTSVID). */
export interface JwtSvid {
  readonly spiffeId: string;
  /** JWS compact serialization. Never logged (its SHA-256 is). */
  readonly token: string;
  readonly audience: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** What a workload is served at one moment. Immutable: a change produces a new snapshot. */
export interface IdentitySnapshot {
  readonly svid: WorkloadSvid;
  /** The workload's own trust domain's bundle first; federated domains after it (docs/federation.md). */
  readonly bundles: readonly TrustBundle[];
}

export type SecretChange = 'bundle' | 'svid';

/** One workload's view of its identity, kept current by the agent. */
export interface SecretWatch {
  /** The current snapshot (always present once `watch` resolved). */
  current(): IdentitySnapshot;
  /**
   * Calls `listener` after every change, with what changed. When the bundle and the SVID change
   * together, the agent reports `bundle` first and `svid` in a second call, so servers push ROOTCA
   * before the new leaf (docs/architecture.md §5). Returns the unsubscribe function.
   */
  onChange(listener: (changed: ReadonlySet<SecretChange>) => void): () => void;
  /**
   * Calls `listener` once if the agent stops serving this watch: node mode, when the CA now refuses the
   * token the stream was opened with (or the identity itself). The stream must then end with that
   * error (a CastellanError whose code maps to its status, e.g. UNAUTHENTICATED). From then on
   * `current()` throws it: a revoked watch never hands out the key again. Called at once when the watch
   * is already revoked. Returns the unsubscribe function.
   */
  onRevoked(listener: (err: Error) => void): () => void;
  /** Releases this watch (the stream ended). Idempotent. */
  close(): void;
}

/** What a server knows about the workload on the other end of a stream. */
export interface StreamCaller {
  /**
   * The bearer token from the call's `authorization: Bearer …` metadata (node mode: Envoy sends its
   * pod's service-account token as call credentials). Sidecar mode ignores it.
   */
  readonly token?: string;
  /** For logs: gRPC peer (a Unix socket peer is usually empty). */
  readonly peer?: string;
}

/**
 * Resolves which identity a stream gets and keeps it current. Sidecar mode: the one identity of the
 * pod. Node mode: the identity the CA proved for the caller's token (never another pod's).
 */
export interface SecretProvider {
  /**
   * Resolves the caller's identity, waiting for its first certificate when needed. Rejects with a
   * CastellanError whose code the servers map to a gRPC status: ERR_TOKEN_MISSING /
   * ERR_TOKEN_REJECTED / ERR_TOKEN_* → UNAUTHENTICATED, ERR_PERMISSION_DENIED → PERMISSION_DENIED,
   * ERR_NOT_READY → UNAVAILABLE, ERR_CANCELLED → CANCELLED.
   */
  watch(caller: StreamCaller, signal?: AbortSignal): Promise<SecretWatch>;
  /**
   * A JWT-SVID of the caller's identity for `audience` (docs/jwt-svid.md), authorized exactly as
   * `watch` is (the identity comes from the caller, never from the request). Absent: the Workload
   * API's FetchJWTSVID answers UNIMPLEMENTED. Rejects with the codes of `watch`, and ERR_CA_REFUSED
   * when the CA refuses the request itself (INVALID_ARGUMENT).
   */
  fetchJwtSvid?(caller: StreamCaller, audience: readonly string[], signal?: AbortSignal): Promise<JwtSvid>;
}

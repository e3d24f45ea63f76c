import type { SpiffeId, TrustBundle, X509Svid } from '../workload-identity/index.js';

/**
 * The contract between the agent's identity side (CA client, key, cache, rotation) and the servers
 * that hand secrets to workloads (Envoy SDS, SPIFFE Workload API). The servers know nothing about the
 * CA; the identity side knows nothing about gRPC streams to workloads.
 */

/**
 * What the agent trusts (docs/federation.md): its own trust domain's bundle, and the bundles of the
 * federated trust domains the CA relays (served after the own one). Immutable.
 */
export interface BundleSet {
  readonly own: TrustBundle;
  readonly federated: readonly TrustBundle[];
}

/** A JWT-SVID as the agent hands it to a workload (FetchJWTSVID). */
export interface JwtSvid {
  readonly id: SpiffeId;
  /** JWS compact serialization. Never logged (its SHA-256 is). */
  readonly token: string;
  readonly audience: readonly string[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** What a workload is served at one moment. Immutable: a change produces a new snapshot. */
export interface IdentitySnapshot {
  readonly svid: X509Svid;
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

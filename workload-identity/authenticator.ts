import type { SpiffeId } from './spiffe-id.js';

/** What a caller presented: everything an authenticator may look at (docs/architecture.md §2). */
export interface CallerCredentials {
  /** The bearer token from `authorization: Bearer <token>` metadata, if any. */
  readonly token?: string;
  /** The TLS client certificate chain (DER, leaf first) the caller presented, if any. */
  readonly peerCertificates?: readonly Uint8Array[];
  /** `ip:port` of the caller, for logs and the ledger. */
  readonly peerAddress?: string;
}

/** How a caller was authenticated. */
export type AuthenticatorKind = 'tokenreview' | 'jwks' | 'client-certificate';

/** A caller whose identity was established from its credentials (never from what it asks for). */
export interface AuthenticatedCaller {
  /** The identity the caller may obtain: `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  readonly spiffeId: SpiffeId;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The pod the token is bound to, when the token says so. */
  readonly pod?: { readonly name: string; readonly uid: string };
  /** Lowercase hex SHA-256 of the token (logs and ledger hold this, never the token). */
  readonly tokenSha256?: string;
  readonly authenticator: AuthenticatorKind;
}

/**
 * Turns credentials into an identity or refuses them. Implementations throw CastellanError with an
 * AuthErrorCode; they never log or return the token itself.
 */
export interface Authenticator {
  readonly kind: AuthenticatorKind;
  authenticate(credentials: CallerCredentials): Promise<AuthenticatedCaller>;
}

/**
 * Stable codes of authentication and authorization failures. ERR_AUTH_* backend failures mean "try
 * again later" (gRPC UNAVAILABLE); ERR_POLICY_DENIED is PERMISSION_DENIED; the rest UNAUTHENTICATED.
 */
export type AuthErrorCode =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_ALGORITHM'
  | 'ERR_TOKEN_CRITICAL_HEADER'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_UNKNOWN_KEY'
  | 'ERR_TOKEN_REJECTED'
  | 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'
  | 'ERR_TOKEN_POD_BINDING'
  | 'ERR_CLIENT_CERT_INVALID'
  | 'ERR_AUTH_BACKEND_UNAVAILABLE'
  | 'ERR_POLICY_DENIED';

import { Metadata, status } from '@grpc/grpc-js';
import {
  isCastellanError,
  type AuthErrorCode,
  type DurationErrorCode,
  type KubeConfigErrorCode,
  type KubernetesIdentityErrorCode,
  type SpiffeIdErrorCode,
  type X509SvidErrorCode,
} from '../../workload-identity/index.js';
import type { CaErrorCode } from '../errors.js';
import type { LedgerErrorCode } from '../ledger/index.js';
import type { BundleConfigMapErrorCode } from './bundle-configmaps.js';

/** What a refused call returns: the status and a message that says what to fix (no internals). */
export interface CallError {
  readonly code: status;
  readonly details: string;
  /** The stable error code (for metrics, logs and the ledger). */
  readonly reason: string;
  /** The CA's maximum lifetime in seconds, for ERR_TTL_TOO_LONG (clients ask for it instead). */
  readonly maxTtlSeconds?: number;
}

/** Trailing metadata of a refused call: the stable code, so clients decide on it and not on the message text. */
export const ERROR_CODE_HEADER = 'castellan-error';
export const MAX_TTL_HEADER = 'castellan-max-ttl-seconds';

/**
 * Every code a CA call can fail with. The map below must name each one (INTERNAL for failures that are
 * the CA's, not the caller's): a new code without a status fails the typecheck, a misspelt one does not exist.
 */
export type ServerErrorCode =
  | CaErrorCode
  | AuthErrorCode
  | LedgerErrorCode
  | X509SvidErrorCode
  | SpiffeIdErrorCode
  | KubernetesIdentityErrorCode
  | DurationErrorCode
  | KubeConfigErrorCode
  | BundleConfigMapErrorCode;

const STATUS_BY_CODE = {
  // CaErrorCode
  ERR_CSR_MALFORMED: status.INVALID_ARGUMENT,
  ERR_CSR_TRUNCATED: status.INVALID_ARGUMENT,
  ERR_CSR_SIGNATURE: status.INVALID_ARGUMENT,
  ERR_CSR_SIGNATURE_ALGORITHM: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_UNSUPPORTED: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_WEAK: status.INVALID_ARGUMENT,
  ERR_CSR_CA_REQUESTED: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_USAGE: status.INVALID_ARGUMENT,
  ERR_SAN_MISMATCH: status.PERMISSION_DENIED,
  ERR_TTL_INVALID: status.INVALID_ARGUMENT,
  ERR_TTL_TOO_LONG: status.INVALID_ARGUMENT,
  ERR_DURATION: status.INTERNAL,
  ERR_KEY_TYPE: status.INVALID_ARGUMENT,
  ERR_KEY_FILE: status.INTERNAL,
  ERR_CA_DIR: status.INTERNAL,
  ERR_CA_EXISTS: status.INTERNAL,
  ERR_CACERTS: status.INTERNAL,
  ERR_ISSUER_EXPIRED: status.UNAVAILABLE,
  ERR_CA_LOCKED: status.ABORTED,
  ERR_STORE_CONFLICT: status.ABORTED,
  ERR_STORE_UNAVAILABLE: status.UNAVAILABLE,
  ERR_ROTATION_STATE: status.FAILED_PRECONDITION,
  ERR_ROTATION_GATE: status.FAILED_PRECONDITION,
  ERR_REPORT_INVALID: status.INVALID_ARGUMENT,
  ERR_JWT_AUDIENCE: status.INVALID_ARGUMENT,
  ERR_JWT_NO_KEY: status.FAILED_PRECONDITION,
  ERR_JWT_KEY_NOT_PUBLISHED: status.UNAVAILABLE,
  ERR_FEDERATION: status.INTERNAL,
  ERR_NOT_ADMIN: status.PERMISSION_DENIED,
  ERR_CERT_FILE: status.INTERNAL,
  ERR_CERT_CHECK_FAILED: status.INTERNAL,
  ERR_KEY_MATERIAL: status.INTERNAL,
  ERR_PKCS11_MODULE: status.INTERNAL,
  ERR_PKCS11_TOKEN: status.INTERNAL,
  ERR_PKCS11_PIN: status.INTERNAL,
  ERR_PKCS11_KEY_NOT_FOUND: status.INTERNAL,
  ERR_PKCS11_KEY_POLICY: status.INTERNAL,
  ERR_PKCS11: status.INTERNAL,
  ERR_RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  ERR_NOT_READY: status.UNAVAILABLE,
  ERR_CANCELLED: status.CANCELLED,
  ERR_CONFIG: status.INTERNAL,
  ERR_LISTEN: status.INTERNAL,
  ERR_SIGNER: status.INTERNAL,
  // AuthErrorCode
  ERR_TOKEN_MISSING: status.UNAUTHENTICATED,
  ERR_TOKEN_MALFORMED: status.UNAUTHENTICATED,
  ERR_TOKEN_EXPIRED: status.UNAUTHENTICATED,
  ERR_TOKEN_NOT_YET_VALID: status.UNAUTHENTICATED,
  ERR_TOKEN_AUDIENCE: status.UNAUTHENTICATED,
  ERR_TOKEN_ISSUER: status.UNAUTHENTICATED,
  ERR_TOKEN_ALGORITHM: status.UNAUTHENTICATED,
  ERR_TOKEN_CRITICAL_HEADER: status.UNAUTHENTICATED,
  ERR_TOKEN_SIGNATURE: status.UNAUTHENTICATED,
  ERR_TOKEN_UNKNOWN_KEY: status.UNAUTHENTICATED,
  ERR_TOKEN_REJECTED: status.UNAUTHENTICATED,
  ERR_TOKEN_NOT_SERVICE_ACCOUNT: status.UNAUTHENTICATED,
  ERR_TOKEN_POD_BINDING: status.UNAUTHENTICATED,
  ERR_CLIENT_CERT_INVALID: status.UNAUTHENTICATED,
  ERR_AUTH_BACKEND_UNAVAILABLE: status.UNAVAILABLE,
  ERR_POLICY_DENIED: status.PERMISSION_DENIED,
  // LedgerErrorCode
  ERR_LEDGER_UNAVAILABLE: status.UNAVAILABLE,
  ERR_LEDGER_SCHEMA: status.INTERNAL,
  ERR_LEDGER_CONFIG: status.INTERNAL,
  ERR_LEDGER_BROKEN: status.UNAVAILABLE,
  ERR_LEDGER_NOT_FOUND: status.INTERNAL,
  ERR_LEDGER_RECORD: status.INTERNAL,
  // X509SvidErrorCode
  ERR_SVID_MALFORMED: status.INTERNAL,
  ERR_SVID_MALFORMED_EXTENSION: status.INTERNAL,
  ERR_SVID_DUPLICATE_EXTENSION: status.INTERNAL,
  ERR_SVID_NO_URI_SAN: status.INTERNAL,
  ERR_SVID_MULTIPLE_URI_SANS: status.INTERNAL,
  ERR_SVID_BAD_SPIFFE_ID: status.INTERNAL,
  ERR_SVID_SAN_NOT_CRITICAL: status.INTERNAL,
  ERR_SVID_NO_BASIC_CONSTRAINTS: status.INTERNAL,
  ERR_SVID_NO_KEY_USAGE: status.INTERNAL,
  ERR_SVID_KEY_USAGE_NOT_CRITICAL: status.INTERNAL,
  ERR_SVID_LEAF_NO_PATH: status.INTERNAL,
  ERR_SVID_LEAF_IS_CA: status.INTERNAL,
  ERR_SVID_LEAF_PATH_LEN: status.INTERNAL,
  ERR_SVID_LEAF_NO_DIGITAL_SIGNATURE: status.INTERNAL,
  ERR_SVID_LEAF_KEY_CERT_SIGN: status.INTERNAL,
  ERR_SVID_LEAF_CRL_SIGN: status.INTERNAL,
  ERR_SVID_EKU_MISSING_SERVER_AUTH: status.INTERNAL,
  ERR_SVID_EKU_MISSING_CLIENT_AUTH: status.INTERNAL,
  ERR_SVID_SIGNING_NOT_CA: status.INTERNAL,
  ERR_SVID_SIGNING_BASIC_CONSTRAINTS_NOT_CRITICAL: status.INTERNAL,
  ERR_SVID_SIGNING_NO_KEY_CERT_SIGN: status.INTERNAL,
  ERR_SVID_SIGNING_HAS_PATH: status.INTERNAL,
  ERR_SVID_TRUST_DOMAIN_MISMATCH: status.INTERNAL,
  // SpiffeIdErrorCode
  ERR_SPIFFE_ID_EMPTY: status.INTERNAL,
  ERR_SPIFFE_ID_TOO_LONG: status.INTERNAL,
  ERR_SPIFFE_ID_SCHEME: status.INTERNAL,
  ERR_SPIFFE_ID_QUERY: status.INTERNAL,
  ERR_SPIFFE_ID_FRAGMENT: status.INTERNAL,
  ERR_SPIFFE_ID_USERINFO: status.INTERNAL,
  ERR_SPIFFE_ID_PORT: status.INTERNAL,
  ERR_SPIFFE_ID_PERCENT_ENCODING: status.INTERNAL,
  ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY: status.INTERNAL,
  ERR_SPIFFE_ID_TRUST_DOMAIN_TOO_LONG: status.INTERNAL,
  ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR: status.INTERNAL,
  ERR_SPIFFE_ID_PATH_NO_LEADING_SLASH: status.INTERNAL,
  ERR_SPIFFE_ID_PATH_CHAR: status.INTERNAL,
  ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT: status.INTERNAL,
  ERR_SPIFFE_ID_PATH_DOT_SEGMENT: status.INTERNAL,
  ERR_SPIFFE_ID_TRAILING_SLASH: status.INTERNAL,
  ERR_SPIFFE_ID_UNEXPECTED_PATH: status.INTERNAL,
  // KubernetesIdentityErrorCode
  ERR_K8S_NAMESPACE_EMPTY: status.INTERNAL,
  ERR_K8S_NAMESPACE_TOO_LONG: status.INTERNAL,
  ERR_K8S_NAMESPACE_INVALID: status.INTERNAL,
  ERR_K8S_SERVICE_ACCOUNT_EMPTY: status.INTERNAL,
  ERR_K8S_SERVICE_ACCOUNT_TOO_LONG: status.INTERNAL,
  ERR_K8S_SERVICE_ACCOUNT_INVALID: status.INTERNAL,
  // DurationErrorCode
  // KubeConfigErrorCode
  ERR_KUBECONFIG: status.INTERNAL,
  // BundleConfigMapErrorCode
  ERR_BUNDLE_PUBLISHER_STOPPED: status.INTERNAL,
} as const satisfies Record<ServerErrorCode, status>;

/**
 * The one mapping from errors to gRPC statuses (docs/architecture.md §4). Deliberate errors keep their message, which
 * was written for the caller; anything else is INTERNAL with a fixed message, its detail for the log only.
 */
export function callErrorFor(err: unknown): CallError {
  if (isCastellanError(err)) {
    // Codes of other modules (none reach the CA today) are INTERNAL like any unknown failure.
    const code = (STATUS_BY_CODE as Readonly<Record<string, status | undefined>>)[err.code];
    // A backend failure's message names internal endpoints and RBAC state: the log gets it, not the caller.
    if (err.code === 'ERR_AUTH_BACKEND_UNAVAILABLE') return { code: status.UNAVAILABLE, details: 'auth: the authentication backend is unavailable; retry later', reason: err.code };
    const maxMs = err.code === 'ERR_TTL_TOO_LONG' ? (err.context as { maxMs?: unknown }).maxMs : undefined;
    if (code !== undefined && code !== status.INTERNAL)
      return { code, details: err.message, reason: err.code, ...(typeof maxMs === 'number' ? { maxTtlSeconds: Math.floor(maxMs / 1000) } : {}) };
    return { code: status.INTERNAL, details: 'internal error; see the CA log', reason: err.code };
  }
  return { code: status.INTERNAL, details: 'internal error; see the CA log', reason: 'ERR_INTERNAL' };
}

/** The status object grpc-js sends for `e`, with the stable code (and the maximum lifetime) as trailing metadata. */
export function callStatus(e: CallError): { code: status; details: string; metadata: Metadata; name: string; message: string } {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_HEADER, e.reason);
  if (e.maxTtlSeconds !== undefined) metadata.set(MAX_TTL_HEADER, String(e.maxTtlSeconds));
  return { code: e.code, details: e.details, metadata, name: 'Error', message: e.details };
}

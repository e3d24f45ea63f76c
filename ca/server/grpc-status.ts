import { Metadata, status } from '@grpc/grpc-js';
import { isCastellanError } from '../../workload-identity/index.js';

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

const STATUS_BY_CODE: Readonly<Record<string, status>> = {
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
  ERR_SAN_MISMATCH: status.PERMISSION_DENIED,
  ERR_CSR_MALFORMED: status.INVALID_ARGUMENT,
  ERR_CSR_TRUNCATED: status.INVALID_ARGUMENT,
  ERR_CSR_SIGNATURE: status.INVALID_ARGUMENT,
  ERR_CSR_SIGNATURE_ALGORITHM: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_UNSUPPORTED: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_WEAK: status.INVALID_ARGUMENT,
  ERR_CSR_CA_REQUESTED: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_USAGE: status.INVALID_ARGUMENT,
  ERR_TTL_INVALID: status.INVALID_ARGUMENT,
  ERR_TTL_TOO_LONG: status.INVALID_ARGUMENT,
  ERR_REPORT_INVALID: status.INVALID_ARGUMENT,
  ERR_JWT_AUDIENCE: status.INVALID_ARGUMENT,
  ERR_JWT_NO_KEY: status.FAILED_PRECONDITION,
  ERR_JWT_KEY_NOT_PUBLISHED: status.UNAVAILABLE,
  ERR_RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  ERR_NOT_READY: status.UNAVAILABLE,
  ERR_CANCELLED: status.CANCELLED,
  ERR_ISSUER_EXPIRED: status.UNAVAILABLE,
  ERR_LEDGER_UNAVAILABLE: status.UNAVAILABLE,
  // Root administration (RootAdmin): the step's precondition does not hold; the message says which.
  ERR_NOT_ADMIN: status.PERMISSION_DENIED,
  ERR_KEY_TYPE: status.INVALID_ARGUMENT,
  ERR_ROTATION_GATE: status.FAILED_PRECONDITION,
  ERR_ROTATION_STATE: status.FAILED_PRECONDITION,
  ERR_CA_LOCKED: status.ABORTED,
  ERR_STORE_CONFLICT: status.ABORTED,
  ERR_STORE_UNAVAILABLE: status.UNAVAILABLE,
  ERR_LEDGER_BROKEN: status.UNAVAILABLE,
};

/**
 * The one mapping from errors to gRPC statuses (DESIGN §4). Deliberate errors keep their message, which
 * was written for the caller; anything else is INTERNAL with a fixed message, its detail for the log only.
 */
export function callErrorFor(err: unknown): CallError {
  if (isCastellanError(err)) {
    const code = STATUS_BY_CODE[err.code];
    // A backend failure's message names internal endpoints and RBAC state: the log gets it, not the caller.
    if (err.code === 'ERR_AUTH_BACKEND_UNAVAILABLE') return { code: status.UNAVAILABLE, details: 'auth: the authentication backend is unavailable; retry later', reason: err.code };
    const maxMs = err.code === 'ERR_TTL_TOO_LONG' ? (err.context as { maxMs?: unknown }).maxMs : undefined;
    if (code !== undefined) return { code, details: err.message, reason: err.code, ...(typeof maxMs === 'number' ? { maxTtlSeconds: Math.floor(maxMs / 1000) } : {}) };
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

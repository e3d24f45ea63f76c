import { status } from '@grpc/grpc-js';
import { CastellanError, isCastellanError } from '../workload-identity/index.js';

/** Error codes the workload-facing servers raise themselves. */
export type WorkloadServerErrorCode =
  | 'ERR_SDS_TYPE_URL'
  | 'ERR_SDS_TOO_MANY_NAMES'
  | 'ERR_SDS_NAME_TOO_LONG'
  | 'ERR_SDS_NOT_FOUND'
  | 'ERR_WORKLOAD_HEADER_MISSING'
  | 'ERR_TOKEN_MISSING'
  | 'ERR_SOCKET_IN_USE'
  | 'ERR_SOCKET_PATH'
  | 'ERR_JWT_REQUEST'
  | 'ERR_JWT_UNSUPPORTED';

/** What a refused call returns: a status and a message saying what to fix (no internals). */
export interface CallError {
  readonly code: status;
  readonly details: string;
  /** The stable error code, for logs and metrics. */
  readonly reason: string;
}

const STATUS_BY_CODE: Readonly<Record<string, status>> = {
  ERR_SDS_TYPE_URL: status.INVALID_ARGUMENT,
  ERR_SDS_TOO_MANY_NAMES: status.INVALID_ARGUMENT,
  ERR_SDS_NAME_TOO_LONG: status.INVALID_ARGUMENT,
  ERR_SDS_NOT_FOUND: status.NOT_FOUND,
  ERR_WORKLOAD_HEADER_MISSING: status.INVALID_ARGUMENT,
  ERR_TOKEN_MISSING: status.UNAUTHENTICATED,
  ERR_PERMISSION_DENIED: status.PERMISSION_DENIED,
  ERR_POLICY_DENIED: status.PERMISSION_DENIED,
  ERR_SAN_MISMATCH: status.PERMISSION_DENIED,
  ERR_NOT_READY: status.UNAVAILABLE,
  ERR_AUTH_BACKEND_UNAVAILABLE: status.UNAVAILABLE,
  // The agent's own trouble, not the caller's credentials: the caller can only retry later.
  ERR_TOKEN_FILE: status.UNAVAILABLE,
  ERR_CA_UNAVAILABLE: status.UNAVAILABLE,
  ERR_CA_REFUSED: status.UNAVAILABLE,
  ERR_CA_RESPONSE: status.UNAVAILABLE,
  ERR_CA_UNTRUSTED: status.UNAVAILABLE,
  ERR_CA_NOT_TLS: status.UNAVAILABLE,
  ERR_CA_NAME_MISMATCH: status.UNAVAILABLE,
  ERR_CA_CERT_EXPIRED: status.UNAVAILABLE,
  ERR_IDENTITY_CHANGED: status.UNAVAILABLE,
  ERR_CANCELLED: status.CANCELLED,
  // JWT-SVID profile (docs/jwt-svid.md): a bad request, or a token that does not validate (as SPIRE answers).
  ERR_JWT_REQUEST: status.INVALID_ARGUMENT,
  ERR_JWT_UNSUPPORTED: status.UNIMPLEMENTED,
};

/**
 * The one mapping from errors to gRPC statuses for the agent's servers (the codes are those of the
 * `SecretProvider` contract in secret-source.ts). Every `ERR_TOKEN_*` about the caller's token is
 * UNAUTHENTICATED (ERR_TOKEN_FILE, the agent's own token file, is UNAVAILABLE); a deliberate
 * error keeps its message, written for the caller; anything else is INTERNAL with a fixed message.
 *
 * @example
 *   const e = workloadCallError(new CastellanError('ERR_NOT_READY', 'agent: no certificate yet'));
 *   e.code === status.UNAVAILABLE;
 */
export function workloadCallError(err: unknown): CallError {
  if (isCastellanError(err)) {
    const code =
      STATUS_BY_CODE[err.code] ?? (err.code.startsWith('ERR_TOKEN_') ? status.UNAUTHENTICATED : err.code.startsWith('ERR_JWT_SVID_') ? status.INVALID_ARGUMENT : undefined);
    if (code !== undefined) return { code, details: err.message, reason: err.code };
    return { code: status.INTERNAL, details: 'internal error; see the agent log', reason: err.code };
  }
  return { code: status.INTERNAL, details: 'internal error; see the agent log', reason: 'ERR_INTERNAL' };
}

/** Shorthand for the servers' own errors. */
export function workloadError(code: WorkloadServerErrorCode, message: string, context?: Record<string, unknown>): CastellanError<WorkloadServerErrorCode> {
  return new CastellanError(code, message, context ? { context } : {});
}

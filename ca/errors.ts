import { CastellanError } from '../workload-identity/index.js';

/** Stable codes of the errors the CA raises on purpose. */
export type CaErrorCode =
  // CSR (client's fault: INVALID_ARGUMENT, except ERR_SAN_MISMATCH which is PERMISSION_DENIED)
  | 'ERR_CSR_MALFORMED'
  | 'ERR_CSR_TRUNCATED'
  | 'ERR_CSR_SIGNATURE'
  | 'ERR_CSR_SIGNATURE_ALGORITHM'
  | 'ERR_CSR_KEY_UNSUPPORTED'
  | 'ERR_CSR_KEY_WEAK'
  | 'ERR_CSR_CA_REQUESTED'
  | 'ERR_CSR_KEY_USAGE'
  | 'ERR_SAN_MISMATCH'
  | 'ERR_TTL_INVALID'
  | 'ERR_TTL_TOO_LONG'
  // JWT-SVIDs (docs/jwt-svid.md): a bad audience list (INVALID_ARGUMENT); no key yet (FAILED_PRECONDITION /
  // UNAVAILABLE while a new key is being published)
  | 'ERR_JWT_AUDIENCE'
  | 'ERR_JWT_NO_KEY'
  | 'ERR_JWT_KEY_NOT_PUBLISHED'
  // Federation (docs/federation.md): a configured trust domain whose bundle cannot be used
  | 'ERR_FEDERATION'
  // Authority material and configuration (operator's fault)
  | 'ERR_DURATION'
  | 'ERR_KEY_TYPE'
  | 'ERR_KEY_FILE'
  | 'ERR_CA_DIR'
  | 'ERR_CA_EXISTS'
  | 'ERR_CACERTS'
  | 'ERR_ISSUER_EXPIRED'
  // Root and intermediate rotation (docs/architecture.md §6)
  | 'ERR_CA_LOCKED'
  // CA state stores (directory, Kubernetes): a concurrent commit, an unreachable or refusing API
  | 'ERR_STORE_CONFLICT'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_ROTATION_STATE'
  | 'ERR_ROTATION_GATE'
  | 'ERR_REPORT_INVALID'
  | 'ERR_NOT_ADMIN'
  // Certificates given to the CLI (cert inspect)
  | 'ERR_CERT_FILE'
  | 'ERR_CERT_CHECK_FAILED'
  // Key providers (docs/pkcs11.md): stored material and the PKCS#11 token (operator's fault)
  | 'ERR_KEY_MATERIAL'
  | 'ERR_PKCS11_MODULE'
  | 'ERR_PKCS11_TOKEN'
  | 'ERR_PKCS11_PIN'
  | 'ERR_PKCS11_KEY_NOT_FOUND'
  | 'ERR_PKCS11_KEY_POLICY'
  | 'ERR_PKCS11'
  // Server (RESOURCE_EXHAUSTED / UNAVAILABLE)
  | 'ERR_RATE_LIMITED'
  | 'ERR_NOT_READY'
  | 'ERR_CANCELLED'
  | 'ERR_CONFIG'
  | 'ERR_LISTEN'
  // Signer failure (INTERNAL)
  | 'ERR_SIGNER';

export type CaError = CastellanError<CaErrorCode>;

/** Builds a CA error; `message` must say what to fix and start with its module (`csr: ...`). */
export function caError(code: CaErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}): CaError {
  return new CastellanError(code, message, options);
}

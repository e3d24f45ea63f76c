import type { CaCallErrorCode } from './ca-client.js';

/**
 * Every CastellanError code the agent's identity side raises, by what a caller does about it:
 * - the CA's answers (ca-client.ts): ERR_TOKEN_REJECTED, ERR_PERMISSION_DENIED (the workload's
 *   credentials; not retried for that stream), ERR_CA_UNAVAILABLE (retried with backoff),
 *   ERR_CA_REFUSED (the request itself: configuration), ERR_CA_RESPONSE (a malformed answer);
 * - the connection to the CA failing because of the agent's configuration (ca-transport-error.ts,
 *   retried, said once): ERR_CA_UNTRUSTED (--ca-bundle), ERR_CA_NOT_TLS (--ca-addr),
 *   ERR_CA_NAME_MISMATCH (--ca-server-name), ERR_CA_CERT_EXPIRED;
 * - ERR_TOKEN_FILE: the token file cannot be read; ERR_TOKEN_MISSING / ERR_TOKEN_EXPIRED: node mode,
 *   the stream's own token; ERR_IDENTITY_CHANGED: the CA answered for another identity;
 * - ERR_NOT_READY (no certificate yet: UNAVAILABLE), ERR_CANCELLED (the stream went away);
 * - ERR_CONFIG: the agent's configuration.
 */
export type AgentErrorCode =
  | CaCallErrorCode
  | 'ERR_TOKEN_FILE'
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_IDENTITY_CHANGED'
  | 'ERR_NOT_READY'
  | 'ERR_CANCELLED'
  | 'ERR_CONFIG';

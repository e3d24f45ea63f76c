import { promises as fs } from 'node:fs';
import { CastellanError } from '../workload-identity/index.js';

/**
 * A projected service-account token on disk. The kubelet rewrites it before it expires, so it is read
 * again for every request, never cached (Kubernetes: "the application is responsible for reloading the
 * token when it rotates").
 *
 * @example const token = await new TokenFile('/var/run/secrets/tokens/castellan').read();
 */
export class TokenFile {
  constructor(readonly path: string) {}

  /** The token now. Throws ERR_TOKEN_FILE when the file cannot be read or is empty. */
  async read(): Promise<string> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (cause) {
      throw new CastellanError('ERR_TOKEN_FILE', `sds: cannot read the token file ${this.path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
    }
    const token = text.trim();
    if (token === '') throw new CastellanError('ERR_TOKEN_FILE', `sds: the token file ${this.path} is empty`);
    return token;
  }
}

/**
 * The `exp` claim of a JWT, read without verifying it (the CA verifies; the agent only needs to know how
 * long to remember which identity the CA proved for this token). Undefined when absent or unreadable.
 *
 * @example tokenExpiry(jwt) // Date or undefined
 */
export function tokenExpiry(token: string): Date | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? new Date(claims.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Node mode's local gate before a token costs a key and a CA call: the token must be a compact JWS
 * (RFC 7515 §7.1: three base64url parts) whose header and payload are JSON objects and whose payload
 * has a numeric `exp` (RFC 7519 §4.1.4; Kubernetes projected tokens always carry one). Not a
 * verification: the CA verifies the signature. Returns `exp`; throws ERR_TOKEN_MALFORMED.
 *
 * @example const exp = jwtExpiryOrThrow(podToken); // Date
 */
export function jwtExpiryOrThrow(token: string): Date {
  const parts = token.split('.');
  const objectAt = (i: number): Record<string, unknown> | undefined => {
    try {
      const v: unknown = JSON.parse(Buffer.from(parts[i]!, 'base64url').toString('utf8'));
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)) || !objectAt(0) || !objectAt(1)) {
    throw new CastellanError('ERR_TOKEN_MALFORMED', "sds: the stream's token is not a JWT (want header.payload.signature, base64url); send the pod's service-account token");
  }
  const exp = tokenExpiry(token);
  if (!exp) throw new CastellanError('ERR_TOKEN_MALFORMED', 'sds: the stream\'s token has no numeric "exp" claim; use a projected service-account token');
  return exp;
}

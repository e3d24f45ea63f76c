import { promises as fs } from 'node:fs';
import { CastellanError, tokenSha256 } from '../workload-identity/index.js';

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

/** For logs: the token's SHA-256, never the token. */
export const tokenFingerprint = (token: string): string => tokenSha256(token);

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

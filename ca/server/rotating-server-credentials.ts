import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';

/**
 * TLS server credentials whose key, chain and client CA can be replaced while the server runs, and
 * which *request* a client certificate without requiring one (renewal by certificate is optional;
 * the authenticator decides). grpc-js's experimental certificate-provider credentials drop the first
 * connections and lose ALPN h2 on this version, which grpc-go clients refuse; this subclass keeps the
 * http2 server's own ALPN and swaps only the secure context.
 *
 * @example const creds = new RotatingServerCredentials({ key, cert, ca }); creds.update({ key, cert: newChain, ca });
 */
export class RotatingServerCredentials extends ServerCredentials {
  /**
   * @param o.handshakeTimeoutMs Node `tls.Server` `handshakeTimeout`: a connection whose TLS handshake has
   *   not finished by then is closed, however slowly it keeps sending (Node's default: 120 s).
   */
  constructor(initial: Pick<SecureContextOptions, 'key' | 'cert' | 'ca'>, o: { handshakeTimeoutMs?: number } = {}) {
    super({ requestCert: true, rejectUnauthorized: false, ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeout: o.handshakeTimeoutMs } : {}) }, { ...initial });
  }

  /** Installs new material; connections made from now on use it, open ones keep theirs. */
  update(next: Pick<SecureContextOptions, 'key' | 'cert' | 'ca'>): void {
    this.updateSecureContextOptions({ ...next });
  }

  override _equals(other: ServerCredentials): boolean {
    return this === other;
  }
}

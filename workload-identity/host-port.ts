/** A listen or dial address: host (a name, an IPv4 address or an IPv6 address without brackets) and port. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Splits `host:port` (`[::1]:15012` for IPv6) at its last colon; the brackets are removed. The text is
 * validated where it enters (hostPortField for configuration and flags).
 *
 * @example parseHostPort('[::1]:15012') // { host: '::1', port: 15012 }
 */
export function parseHostPort(text: string): HostPort {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

/** Whether a host is an IP address literal (then a TLS server name must come from elsewhere). */
export function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

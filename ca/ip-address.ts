import { isIP } from 'node:net';

/**
 * The octets of an IP address as an iPAddress GeneralName carries them (RFC 5280 §4.2.1.6: four
 * octets for IPv4, sixteen for IPv6, network byte order). Zone indexes (`fe80::1%eth0`) have no
 * place in a certificate and are refused.
 *
 * @example ipAddressOctets('127.0.0.1') // <Buffer 7f 00 00 01>
 */
export function ipAddressOctets(ip: string): Buffer {
  const version = ip.includes('%') ? 0 : isIP(ip);
  if (version === 4) return Buffer.from(ip.split('.').map(Number));
  if (version !== 6) throw new TypeError(`ipAddressOctets: ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
  let text = ip;
  // An IPv4 tail (::ffff:1.2.3.4) is two 16-bit groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index) + ((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(parseInt(g, 16), i * 2);
  return out;
}

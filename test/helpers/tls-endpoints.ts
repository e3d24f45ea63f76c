import { connect, createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { SdsClient, SdsIdentity } from '../../sds/index.js';

/** The peer's SPIFFE ID (its one URI SAN) and serial. */
export function peerOf(s: TLSSocket): { spiffeId: string; serial: string } {
  const c = s.getPeerCertificate();
  const uri = (c.subjectaltname ?? '').split(', ').find((x) => x.startsWith('URI:'));
  return { spiffeId: uri ? uri.slice(4) : '', serial: (c.serialNumber ?? '').toLowerCase() };
}

const contextOf = (id: SdsIdentity): SecureContext => createSecureContext({ cert: id.certificateChainPem, key: id.privateKeyPem, ca: id.trustedCaPem });

/**
 * A TLS server whose certificate and trust come only from SDS: it swaps its SecureContext on every
 * push and requires a client certificate. It answers each connection with what it saw of the client.
 */
export async function sdsTlsServer(sds: SdsClient): Promise<{ server: Server; port: number; seen: { spiffeId: string; serial: string }[] }> {
  const first = await sds.ready();
  const seen: { spiffeId: string; serial: string }[] = [];
  const server = createServer({ cert: first.certificateChainPem, key: first.privateKeyPem, ca: first.trustedCaPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    const p = peerOf(s);
    seen.push(p);
    s.end(JSON.stringify(p));
  });
  sds.on('identity', (id) => server.setSecureContext({ cert: id.certificateChainPem, key: id.privateKeyPem, ca: id.trustedCaPem }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** One mTLS handshake with the client's current SDS identity; resolves with both sides' views. */
export function sdsTlsHandshake(sds: SdsClient, port: number): Promise<{ server: { spiffeId: string; serial: string }; client: { spiffeId: string; serial: string } }> {
  const id = sds.current();
  if (!id) return Promise.reject(new Error('no SDS identity yet'));
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      secureContext: contextOf(id),
      // SPIFFE authenticates by URI SAN, not host name (X509-SVID §5).
      checkServerIdentity: () => undefined,
    });
    let body = '';
    let server: { spiffeId: string; serial: string } | undefined;
    s.on('secureConnect', () => {
      server = peerOf(s);
    });
    s.on('data', (d: Buffer) => (body += d.toString()));
    s.on('end', () => {
      s.destroy();
      if (!server || body === '') reject(new Error('handshake ended without an answer'));
      else resolve({ server, client: JSON.parse(body) as { spiffeId: string; serial: string } });
    });
    s.on('error', reject);
  });
}

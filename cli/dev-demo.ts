import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { formatDuration } from '../ca/index.js';
import { SdsClient, type SdsIdentity } from '../sds/index.js';
import { spiffeIdOf, uriSansOf } from '../workload-identity/index.js';

/**
 * The two demo workloads of `castellan dev` (cli/dev.ts): SDS clients whose every identity is printed,
 * a TLS server and a client that authorize each other by SPIFFE ID (X509-SVID §5), handshaking on an
 * interval while their certificates rotate.
 */

export type DemoWorkload = 'server' | 'client';

/** Prints one timestamped event line. */
export type Say = (line: string) => void;

// Serials are 128-bit random numbers: their first 12 hex digits are plenty to tell them apart.
const short = (serial: string) => `${serial.slice(0, 12)}…`;

/** The peer certificate's SPIFFE ID (its URI SAN, X509-SVID §2) and serial. */
function peerOf(s: TLSSocket): { id: string; serial: string } {
  const c = s.getPeerCertificate();
  return { id: uriSansOf(c.subjectaltname)[0] ?? '(no URI SAN)', serial: (c.serialNumber ?? '').toLowerCase() };
}

/**
 * Why a peer's X509-SVID is not the expected identity, or undefined when it is. X509-SVID §5: a peer is
 * authorized by its SPIFFE ID, the certificate's one URI SAN, not by a host name.
 */
function wrongPeer(subjectaltname: string | undefined, expected: string): string | undefined {
  const uris = uriSansOf(subjectaltname);
  if (uris.length !== 1) return `the peer certificate has ${uris.length} URI SANs, want exactly one (X509-SVID)`;
  return uris[0] === expected ? undefined : `the peer is ${uris[0]}, want ${expected}`;
}

/** Serial, SPIFFE ID and notAfter of the leaf an SDS identity carries. */
async function leafOf(id: SdsIdentity): Promise<{ serial: string; spiffeId: string; notAfter: Date }> {
  const { X509Certificate } = await import('node:crypto');
  const leaf = new X509Certificate(id.certificateChainPem);
  return { serial: leaf.serialNumber.toLowerCase(), spiffeId: spiffeIdOf(leaf)?.toString() ?? '?', notAfter: new Date(leaf.validTo) };
}

/** The two demo workloads: each gets its identity only from SDS, and every identity they get is printed. */
export function demoWorkloads(socketPath: string, tokens: Record<DemoWorkload, string>, log: Logger, say: Say): Record<DemoWorkload, SdsClient> {
  const sds = {
    server: new SdsClient({ socketPath, token: tokens.server, nodeId: 'demo-server', log }),
    client: new SdsClient({ socketPath, token: tokens.client, nodeId: 'demo-client', log }),
  };
  for (const name of ['server', 'client'] as const) {
    let last: string | undefined;
    sds[name].on('identity', (id) => {
      void leafOf(id).then((leaf) => {
        const left = formatDuration(leaf.notAfter.getTime() - Date.now());
        say(
          last === undefined
            ? `${name.padEnd(9)} identity ${leaf.spiffeId}  serial ${short(leaf.serial)}  expires in ${left}`
            : `${name.padEnd(9)} rotated  serial ${short(last)} -> ${short(leaf.serial)}  expires in ${left}`,
        );
        last = leaf.serial;
      });
    });
  }
  return sds;
}

/** One demo mTLS handshake every `intervalMs` until `stop`, each printed; counts successes and failures. */
export async function handshakeUntilStopped(
  client: SdsClient,
  port: number,
  expectedServerId: string,
  intervalMs: number,
  stop: { readonly promise: Promise<void>; stopped(): boolean },
  say: Say,
): Promise<{ handshakes: number; failures: number }> {
  let handshakes = 0;
  let failures = 0;
  while (!stop.stopped()) {
    try {
      const r = await demoHandshake(client, port, expectedServerId);
      handshakes++;
      say(`mTLS #${handshakes} ${r.protocol}  client saw ${r.server.id} ${short(r.server.serial)}  server saw ${r.client.id} ${short(r.client.serial)}`);
    } catch (err) {
      failures++;
      say(`handshake FAILED: ${(err as Error).message}`);
    }
    await Promise.race([stop.promise, new Promise((r) => setTimeout(r, intervalMs))]);
  }
  return { handshakes, failures };
}

/**
 * The demo TLS server: requires a client certificate chaining to the SDS trust bundle and whose SPIFFE
 * ID is `expectedClientId`; answers each connection with both peers' IDs and serials as JSON (or why it
 * refused the client).
 *
 * @example const server = await demoTlsServer(await sds.ready(), sds, 'spiffe://cluster.local/ns/demo/sa/client');
 */
export async function demoTlsServer(first: SdsIdentity, sds: SdsClient, expectedClientId: string): Promise<Server> {
  const server = createServer({ cert: first.certificateChainPem, key: first.privateKeyPem, ca: first.trustedCaPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    const refused = wrongPeer(s.getPeerCertificate().subjectaltname, expectedClientId);
    s.end(JSON.stringify(refused ? { refused } : peerOf(s)));
  });
  // A new SecureContext for every SDS push: new connections use it, open ones keep theirs.
  sds.on('identity', (id) => server.setSecureContext({ cert: id.certificateChainPem, key: id.privateKeyPem, ca: id.trustedCaPem }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * One demo mTLS handshake with the client's current SDS identity. Fails unless the server's SPIFFE ID
 * is `expectedServerId` (checked instead of the host name, X509-SVID §5) and the server accepted ours.
 *
 * @example const r = await demoHandshake(sds, port, 'spiffe://cluster.local/ns/demo/sa/server');
 */
export function demoHandshake(
  sds: SdsClient,
  port: number,
  expectedServerId: string,
): Promise<{ protocol: string; server: { id: string; serial: string }; client: { id: string; serial: string } }> {
  const id = sds.current()!;
  return new Promise((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      cert: id.certificateChainPem,
      key: id.privateKeyPem,
      ca: id.trustedCaPem,
      checkServerIdentity: (_host, cert) => {
        const wrong = wrongPeer(cert.subjectaltname, expectedServerId);
        return wrong ? new Error(`server identity: ${wrong}`) : undefined;
      },
    });
    let body = '';
    let seen: { protocol: string; server: { id: string; serial: string } } | undefined;
    s.setTimeout(5_000, () => s.destroy(new Error('handshake timed out')));
    s.on('secureConnect', () => (seen = { protocol: s.getProtocol() ?? '?', server: peerOf(s) }));
    s.on('data', (d: Buffer) => (body += d.toString()));
    s.on('end', () => {
      s.destroy();
      if (!seen || body === '') return reject(new Error('the server closed without answering'));
      const answer = JSON.parse(body) as { id: string; serial: string } | { refused: string };
      if ('refused' in answer) reject(new Error(`the server refused our identity: ${answer.refused}`));
      else resolve({ ...seen, client: answer });
    });
    s.on('error', reject);
  });
}

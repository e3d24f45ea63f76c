import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../ca/index.js';
import { createSvidRequest, SpiffeId } from '../../workload-identity/index.js';
import { testCa } from '../helpers/test-ca.js';

function peerSpiffeId(s: TLSSocket): string | undefined {
  const uri = (s.getPeerCertificate().subjectaltname ?? '').split(', ').find((x) => x.startsWith('URI:'));
  return uri?.slice(4);
}

describe('mTLS between two minted identities (Node tls, real sockets)', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa();
  });
  afterAll(() => ca.cleanup());

  async function identity(id: string, keyType: 'ec-p256' | 'rsa-2048' = 'ec-p256') {
    const spiffeId = SpiffeId.parse(id);
    const key = generateKey(keyType).privateKey;
    const cert = ca.issuer.issue(spiffeId, await createSvidRequest(key, spiffeId));
    return { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: cert.leafPem + cert.chainPem.slice(0, -1).join('') };
  }

  async function handshake(server: { key: string; cert: string }, client: { key: string; cert: string }, bundle: string) {
    let serverSaw: string | undefined;
    let serverError: string | undefined;
    const srv = createServer({ ...server, ca: bundle, requestCert: true, rejectUnauthorized: true }, (s) => {
      serverSaw = peerSpiffeId(s);
      s.end();
    });
    // TLS 1.3: the client finishes before the server has checked the client certificate, so a refused
    // client shows up here, not as a client error.
    srv.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      serverError = `${err.code ?? ''} ${err.message}`;
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as AddressInfo).port;
      const clientSaw = await new Promise<string | undefined>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ...client, ca: bundle, checkServerIdentity: () => undefined });
        s.on('secureConnect', () => {
          const id = peerSpiffeId(s);
          s.on('data', () => undefined);
          s.on('end', () => resolve(id));
        });
        s.on('error', reject);
      });
      await new Promise((r) => setTimeout(r, 50)); // let the server report its side
      return { serverSaw, clientSaw, serverError };
    } finally {
      srv.close();
    }
  }

  it('ok/each side reads the other side SPIFFE ID (EC and RSA leaves)', async () => {
    const bundle = ca.ca.bundle.map((c) => c.pem).join('');
    const a = await identity('spiffe://cluster.local/ns/shop/sa/frontend');
    const b = await identity('spiffe://cluster.local/ns/shop/sa/payments', 'rsa-2048');
    const r = await handshake(a, b, bundle);
    expect(r.serverSaw).toBe('spiffe://cluster.local/ns/shop/sa/payments');
    expect(r.clientSaw).toBe('spiffe://cluster.local/ns/shop/sa/frontend');
  });

  it('fail/a peer from another CA is rejected by the handshake', async () => {
    const other = await testCa();
    try {
      const bundle = ca.ca.bundle.map((c) => c.pem).join('');
      const a = await identity('spiffe://cluster.local/ns/shop/sa/frontend');
      const key = generateKey('ec-p256').privateKey;
      const id = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/intruder');
      const c = other.issuer.issue(id, await createSvidRequest(key, id));
      const intruder = { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: c.leafPem + c.chainPem[0] };
      // intruder as client: the server refuses its certificate
      const asClient = await handshake(a, intruder, bundle);
      expect(asClient.serverSaw).toBeUndefined();
      expect(asClient.serverError).toBeDefined(); // the server aborted the handshake (an alert, then a reset)
      // intruder as server: the client refuses its certificate
      await expect(handshake(intruder, a, bundle)).rejects.toThrow(/unable to get local issuer certificate|certificate/i);
    } finally {
      other.cleanup();
    }
  });
});

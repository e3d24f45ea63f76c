import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { openssl, opensslNewEcKey } from './test-ca.js';

/**
 * A private web PKI made with openssl at test time: a CA and a server certificate for `localhost` and
 * 127.0.0.1 (what an https_web bundle endpoint serves; SPIFFE Federation §5.2.1).
 */
export function webPki(dir: string): { caFile: string; certFile: string; keyFile: string; caPem: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const ok = (r: { status: number; stderr: string }, what: string) => {
    if (r.status !== 0) throw new Error(`openssl ${what}: ${r.stderr}`);
  };
  ok(opensslNewEcKey({ x509: true, keyOut: f('web-ca.key'), out: f('web-ca.pem'), subj: '/CN=Test Web CA', extra: ['-days', '2'] }), 'req -x509');
  ok(opensslNewEcKey({ x509: false, keyOut: f('web.key'), out: f('web.csr'), subj: '/CN=localhost' }), 'req');
  const ext = f('web.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  const x509 = ['x509', '-req', '-in', f('web.csr'), '-CA', f('web-ca.pem'), '-CAkey', f('web-ca.key'), '-CAcreateserial', '-out', f('web.pem'), '-days', '1', '-extfile', ext];
  ok(openssl(x509), 'x509 -req');
  return {
    caFile: f('web-ca.pem'),
    certFile: f('web.pem'),
    keyFile: f('web.key'),
    caPem: readFileSync(f('web-ca.pem'), 'utf8'),
    cert: readFileSync(f('web.pem'), 'utf8'),
    key: readFileSync(f('web.key'), 'utf8'),
  };
}

/** What the fake endpoint answers next: a status and body, a body streamed forever, or nothing at all. */
export type FakeAnswer = { status: number; body: string } | { stream: true } | { hang: true };

/**
 * An HTTPS server on 127.0.0.1 playing a misbehaving (or good) SPIFFE bundle endpoint: each request gets
 * `answer()`. `stream` sends 64 KiB chunks until the client goes away (a 100 MB body); `hang` never answers.
 */
export async function fakeBundleEndpoint(tls: { cert: string; key: string }, answer: () => FakeAnswer): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  let requests = 0;
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    requests++;
    const a = answer();
    if ('hang' in a) return;
    if ('stream' in a) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 100 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (sent = Number.POSITIVE_INFINITY));
      pump();
      return;
    }
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://localhost:${port}/bundle`,
    get requests() {
      return requests;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

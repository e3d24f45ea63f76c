import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * `/healthz` (the process answers), `/readyz` (it can issue: 200 or 503 with the reason) and `/metrics`
 * (Prometheus text) on a plain-HTTP port of their own (DESIGN §4).
 */
export async function startHttpEndpoints(o: { host: string; port: number; registry: Registry; ready: () => string | undefined }): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      const notReady = o.ready();
      res.writeHead(notReady ? 503 : 200, { 'content-type': 'text/plain' }).end(notReady ? `not ready: ${notReady}\n` : 'ready\n');
    } else if (url === '/metrics') {
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz, /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

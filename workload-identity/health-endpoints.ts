import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What `/metrics` serves: a Prometheus registry (prom-client's `Registry` fits). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface HealthEndpoints {
  readonly server: Server;
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * `/healthz` and `/livez` (the process answers, whether or not it is ready: a liveness probe must not
 * restart a pod that is only waiting, e.g. for the Kubernetes API), `/readyz` (200, or 503 with the
 * reason `ready()` gives) and `/metrics` (Prometheus text) on a plain-HTTP port of their own, for the
 * kubelet's probes and scrapers: the CA's and the agent's alike (docs/architecture.md §4, §9).
 *
 * @example const h = await startHealthEndpoints({ host: '127.0.0.1', port: 15014, metrics: registry, ready: () => undefined });
 */
export async function startHealthEndpoints(o: {
  host: string;
  port: number;
  metrics: MetricsSource;
  ready: () => string | undefined;
  /** Problems that do not stop serving (a store it cannot watch, a lost lease): listed under `ready`. */
  notes?: () => readonly string[];
}): Promise<HealthEndpoints> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === '/healthz' || url === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      const why = o.ready();
      const notes = o.notes?.() ?? [];
      const detail = notes.map((n) => `warning: ${n}\n`).join('');
      res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end((why ? `not ready: ${why}\n` : 'ready\n') + detail);
    } else if (url === '/metrics') {
      o.metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /livez, /healthz, /readyz, /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

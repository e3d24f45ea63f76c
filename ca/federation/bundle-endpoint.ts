import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { caError } from '../errors.js';

export interface BundleEndpointOptions {
  readonly host: string;
  readonly port: number;
  /** The URL path the bundle is served at (SPIFFE Federation §5.2.1.3: not constrained). */
  readonly path: string;
  readonly profile: 'https_web' | 'https_spiffe';
  /**
   * https_web: the certificate and key files (re-read every `reloadMs` when they change);
   * https_spiffe: the CA's own X509-SVID and how to hear of its renewals.
   */
  readonly tls:
    | { readonly certFile: string; readonly keyFile: string; readonly reloadMs?: number }
    | { readonly current: () => { key: string; cert: string } | undefined; readonly onChange: (l: (m: { key: string; cert: string }) => void) => () => void };
  /** The SPIFFE bundle document to serve now. */
  readonly document: () => string;
  readonly log: Logger;
}

export interface BundleEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The SPIFFE bundle endpoint (SPIFFE Federation §5): HTTPS GET of `path` answers this trust domain's
 * SPIFFE bundle as `application/json`; no client authentication is asked (§5.2.1.3, §5.2.2.3); other
 * paths are 404, other methods 405. `https_web` serves a certificate from a CA the peers already trust
 * (a public or private web PKI); `https_spiffe` serves the CA's own X509-SVID, so peers authenticate it
 * with the bundle they fetched last.
 *
 * @example const ep = await startBundleEndpoint({ host: '0.0.0.0', port: 8443, path: '/', profile: 'https_spiffe', tls: { current, onChange }, document, log });
 */
export async function startBundleEndpoint(o: BundleEndpointOptions): Promise<BundleEndpoint> {
  const initial = await tlsMaterial(o);
  const server: Server = createServer(
    {
      ...initial,
      // Mozilla "intermediate" (SPIFFE Federation §5): TLS 1.2 and later.
      minVersion: 'TLSv1.2',
      requestTimeout: 10_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://endpoint');
      if (url.pathname !== o.path) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: the SPIFFE bundle is served at ${o.path}\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
        return;
      }
      const body = o.document();
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  );
  server.maxHeadersCount = 50;
  server.on('tlsClientError', () => undefined); // scanners and plain-HTTP clients: nothing to log per connection
  const stops: (() => void)[] = [];
  if ('current' in o.tls) {
    stops.push(o.tls.onChange((m) => server.setSecureContext({ key: m.key, cert: m.cert })));
  } else {
    const files = o.tls;
    let stamp = await fileStamp(files);
    const timer = setInterval(() => {
      void (async () => {
        try {
          const now = await fileStamp(files);
          if (now === stamp) return;
          server.setSecureContext(await tlsMaterial(o));
          stamp = now;
          o.log.info({ certFile: files.certFile }, 'bundle endpoint: certificate reloaded');
        } catch (err) {
          o.log.error({ err, certFile: files.certFile }, 'bundle endpoint: cannot reload the certificate; serving the previous one');
        }
      })();
    }, files.reloadMs ?? 60_000);
    timer.unref();
    stops.push(() => clearInterval(timer));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        caError(
          'ERR_LISTEN',
          `ca: cannot listen on ${o.host}:${o.port} for the SPIFFE bundle endpoint: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}; change federation.bundleEndpoint.listen`,
          { cause: err },
        ),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  o.log.info({ listen: `${o.host}:${port}`, path: o.path, profile: o.profile }, 'SPIFFE bundle endpoint serving');
  return {
    port,
    close: async () => {
      for (const s of stops) s();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function tlsMaterial(o: BundleEndpointOptions): Promise<Pick<SecureContextOptions, 'key' | 'cert'>> {
  if ('current' in o.tls) {
    const m = o.tls.current();
    if (!m) throw caError('ERR_CONFIG', "ca: the bundle endpoint (https_spiffe) needs the CA's serving certificate, which does not exist yet");
    return { key: m.key, cert: m.cert };
  }
  try {
    return { cert: await fs.readFile(o.tls.certFile, 'utf8'), key: await fs.readFile(o.tls.keyFile, 'utf8') };
  } catch (cause) {
    throw caError('ERR_CONFIG', `config: federation.bundleEndpoint: cannot read certFile/keyFile: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

async function fileStamp(f: { certFile: string; keyFile: string }): Promise<string> {
  const [a, b] = await Promise.all([fs.stat(f.certFile), fs.stat(f.keyFile)]);
  return `${a.ino}:${a.size}:${a.mtimeMs}/${b.ino}:${b.size}:${b.mtimeMs}`;
}

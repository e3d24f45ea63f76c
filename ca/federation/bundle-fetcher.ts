import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { isCastellanError, MAX_BUNDLE_BYTES, parseSpiffeBundle, type SpiffeBundle, type TrustDomain } from '../../workload-identity/index.js';
import { caError, type CaError } from '../errors.js';
import { derToPem } from '../pem.js';

/** Why a fetch failed: the label of `castellan_federation_refresh_total{outcome}` and of `castellan check`. */
export type FetchFailure = 'unreachable' | 'tls' | 'timeout' | 'http-status' | 'too-large' | 'malformed' | 'no-keys' | 'trust-domain' | 'no-trust' | 'sequence-backwards';

/** One configured federated trust domain (docs/federation.md). */
export interface FederationTarget {
  readonly trustDomain: TrustDomain;
  readonly url: URL;
  readonly profile: 'https_web' | 'https_spiffe';
  /** https_spiffe: the SPIFFE ID the endpoint's X509-SVID must carry (SPIFFE Federation §5.2.2.2). */
  readonly endpointSpiffeId?: string;
  /** https_web: PEM roots to verify the server with instead of the system's. */
  readonly caPem?: string;
}

export interface FetchOptions {
  /** https_spiffe: the latest roots of a trust domain (the endpoint's own, own CA's, or another federated one). */
  readonly rootsFor: (trustDomain: string) => readonly Buffer[] | undefined;
  /** The whole fetch, redirects included, ms. Default 10000. */
  readonly timeoutMs?: number;
  /** Largest body accepted, bytes. Default MAX_BUNDLE_BYTES (1 MiB). */
  readonly maxBytes?: number;
}

const MAX_REDIRECTS = 3;

function failure(reason: FetchFailure, message: string, cause?: unknown): CaError {
  return caError('ERR_FEDERATION', `federation: ${message}`, { context: { reason }, ...(cause === undefined ? {} : { cause }) });
}

/** The reason of a fetch failure (ERR_FEDERATION's context), `unreachable` for anything else. */
export function fetchFailureOf(err: unknown): FetchFailure {
  return isCastellanError(err, 'ERR_FEDERATION') ? ((err.context as { reason?: FetchFailure }).reason ?? 'unreachable') : 'unreachable';
}

/**
 * Fetches and checks a federated trust domain's bundle from its SPIFFE bundle endpoint (SPIFFE Federation
 * §5.2): `https_web` verifies the server as any HTTPS client does (system roots, or `caPem`), with the
 * URL's host; `https_spiffe` verifies the server's X509-SVID against the latest bundle of the endpoint
 * ID's trust domain and requires exactly that SPIFFE ID (§5.2.2.4). Redirects to https URLs are followed
 * (three at most, same checks). The body is bounded and must be a SPIFFE bundle of this trust domain with
 * at least one key. Rejects with ERR_FEDERATION whose context names the FetchFailure.
 *
 * @example const bundle = await fetchFederatedBundle(target, { rootsFor });
 */
export async function fetchFederatedBundle(t: FederationTarget, o: FetchOptions): Promise<SpiffeBundle> {
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  let url = t.url;
  for (let hop = 0; ; hop++) {
    const r = await get(url, t, o, deadline);
    if (r.redirect) {
      const next = new URL(r.redirect, url);
      if (next.protocol !== 'https:' || next.username !== '' || next.password !== '')
        throw failure('http-status', `${t.url.href} redirects to ${next.protocol}//${next.host}, not a valid bundle endpoint URL`);
      if (hop >= MAX_REDIRECTS) throw failure('http-status', `${t.url.href}: more than ${MAX_REDIRECTS} redirects`);
      url = next;
      continue;
    }
    try {
      return parseSpiffeBundle(t.trustDomain, r.body!);
    } catch (err) {
      const code = isCastellanError(err) ? err.code : '';
      const reason: FetchFailure =
        code === 'ERR_BUNDLE_NO_KEYS' ? 'no-keys' : code === 'ERR_BUNDLE_TRUST_DOMAIN' ? 'trust-domain' : code === 'ERR_BUNDLE_TOO_LARGE' ? 'too-large' : 'malformed';
      throw failure(reason, `${url.href} did not serve a usable bundle of ${t.trustDomain.name}: ${(err as Error).message}`, err);
    }
  }
}

function get(url: URL, t: FederationTarget, o: FetchOptions, deadline: number): Promise<{ body?: Buffer; redirect?: string }> {
  const maxBytes = o.maxBytes ?? MAX_BUNDLE_BYTES;
  let ca: string | undefined;
  let checkServerIdentity: ((host: string, cert: PeerCertificate) => Error | undefined) | undefined;
  if (t.profile === 'https_spiffe') {
    const expected = t.endpointSpiffeId!;
    const td = new URL(expected).host;
    const roots = o.rootsFor(td);
    if (!roots || roots.length === 0) {
      return Promise.reject(failure('no-trust', `no bundle of ${td} to authenticate ${url.host} with (https_spiffe); set initialBundle for ${t.trustDomain.name}`));
    }
    ca = roots.map((der) => derToPem(der, 'CERTIFICATE')).join('');
    // SPIFFE Federation §5.2.2.4: the server certificate is an X509-SVID with exactly the configured ID; the host name plays no part.
    checkServerIdentity = (_host, cert) => {
      const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:'));
      if (uris.length !== 1 || uris[0] !== `URI:${expected}`) return new Error(`the endpoint's certificate names ${uris.join(', ') || 'no URI SAN'}, want exactly ${expected}`);
      if (new X509Certificate(cert.raw).ca) return new Error("the endpoint's certificate is a CA certificate, not an X509-SVID");
      return undefined;
    };
  } else if (t.caPem !== undefined) {
    ca = t.caPem;
  }
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(failure('timeout', `${t.url.href} did not answer in time`));
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | undefined, value?: { body?: Buffer; redirect?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = request(
      url,
      {
        method: 'GET',
        agent: false,
        headers: { accept: 'application/json' },
        ...(ca !== undefined ? { ca } : {}),
        ...(checkServerIdentity ? { checkServerIdentity } : {}),
        ...(isIP(url.hostname.replace(/^\[|\]$/g, '')) === 0 ? { servername: url.hostname } : {}),
        minVersion: 'TLSv1.2',
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          res.resume();
          done(undefined, { redirect: res.headers.location });
          req.destroy();
          return;
        }
        if (status !== 200) {
          res.resume();
          done(failure('http-status', `${url.href} answered HTTP ${status}`));
          req.destroy();
          return;
        }
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > maxBytes) {
          done(failure('too-large', `${url.href} announced ${declared} bytes, more than the ${maxBytes} a bundle may have`));
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            done(failure('too-large', `${url.href} sent more than ${maxBytes} bytes; a bundle is never that large`));
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(undefined, { body: Buffer.concat(chunks) }));
        res.on('error', (err) => done(failure('unreachable', `${url.href}: ${err.message}`, err)));
      },
    );
    const timer = setTimeout(() => {
      done(failure('timeout', `${url.href} did not answer within the fetch timeout`));
      req.destroy();
    }, left);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const tls =
        /certificate|self.signed|SSL|TLS|handshake|altname|X509-SVID|URI SAN/i.test(err.message) || (err.code ?? '').startsWith('ERR_TLS') || (err.code ?? '').includes('CERT');
      done(failure(tls ? 'tls' : 'unreachable', `${url.href}: ${err.message}`, err));
    });
    req.end();
  });
}

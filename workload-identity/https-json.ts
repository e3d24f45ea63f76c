import { request } from 'node:https';
import type { AuthErrorCode } from './authenticator.js';
import { CastellanError } from './errors.js';

/** What httpsGetJson needs to reach an endpoint (a subset of the JWKS discovery options). */
export interface HttpsJsonOptions {
  readonly ca?: string | Buffer;
  readonly bearerToken?: () => string | undefined;
  readonly timeoutMs?: number;
}

const MAX_DOCUMENT_BYTES = 1 << 20;

/**
 * GETs a JSON document over HTTPS (OIDC discovery, JWKS), bounded in size and time; every failure is
 * ERR_AUTH_BACKEND_UNAVAILABLE naming the URL.
 *
 * @example await httpsGetJson(new URL('https://issuer/.well-known/openid-configuration'), { ca }, true);
 */
export function httpsGetJson(url: URL, d: HttpsJsonOptions, sendToken: boolean): Promise<unknown> {
  if (url.protocol !== 'https:') return Promise.reject(backend(`${url.href} is not https`));
  const token = sendToken ? d.bearerToken?.() : undefined;
  const timeoutMs = d.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        agent: false,
        headers: { accept: 'application/json, application/jwk-set+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(d.ca === undefined ? {} : { ca: d.ca }),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_DOCUMENT_BYTES) res.destroy(new Error(`response larger than ${MAX_DOCUMENT_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('error', (err) => reject(backend(`GET ${url.href} failed: ${err.message}`, err)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const hint = status === 401 || status === 403 ? '; the endpoint wants credentials (discovery.bearerToken) or RBAC access to service-account issuer discovery' : '';
            reject(backend(`GET ${url.href} answered HTTP ${status}${hint}`));
            return;
          }
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(backend(`GET ${url.href} did not return JSON`, err));
          }
        });
      },
    );
    // The socket timeout only catches idle connections; this bounds the whole request (a slow drip too).
    const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    deadline.unref();
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(backend(`GET ${url.href} failed: ${err.message}; check the URL, network and CA (discovery.ca)`, err)));
    req.end();
  });
}

function backend(what: string, cause?: unknown): CastellanError<AuthErrorCode> {
  return new CastellanError('ERR_AUTH_BACKEND_UNAVAILABLE', `jwks: ${what}`, cause === undefined ? {} : { cause });
}

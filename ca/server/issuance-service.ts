import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  CastellanError,
  isCastellanError,
  tokenSha256 as sha256OfToken,
  type AuthenticatedCaller,
  type Authenticator,
  type CallerCredentials,
} from '../../workload-identity/index.js';
import type { CertificateRequest } from '../csr.js';
import { caError } from '../errors.js';
import type { IssuedCertificate, Issuer, SigningAuthority } from '../issuer.js';
import { issuedEntry, refusedEntry, type Ledger, type RequestFacts } from '../ledger/index.js';
import { callErrorFor } from './grpc-status.js';
import type { CaMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limiter.js';

/** Who may get which identity beyond "its own" (docs/architecture.md §2). */
export type AuthorizeCaller = (caller: AuthenticatedCaller) => void;

export interface IssuanceServiceOptions {
  /** The issuer to use now (asked per request: intermediates rotate). */
  readonly issuer: () => Issuer;
  /** Verifies bearer tokens (JWKS or TokenReview); absent: tokens are refused. */
  readonly tokenAuthenticator?: Authenticator;
  /** Renewal by a still-valid SVID we issued; absent: client certificates are ignored. */
  readonly clientCertificateAuthenticator?: Authenticator;
  readonly authorize: AuthorizeCaller;
  /** Checked before authentication, keyed by the caller's IP: one noisy peer cannot starve the others. */
  readonly perPeerLimit: RateLimiter;
  /** Checked after authentication, so unauthenticated floods never use up the CA's global budget. */
  readonly globalLimit: RateLimiter;
  readonly perIdentityLimit: RateLimiter;
  readonly metrics: CaMetrics;
  readonly log: Logger;
  /**
   * The issuance ledger (docs/architecture.md §7): every issuance and refusal is recorded, and a certificate is
   * returned only after its record committed. Absent: nothing is recorded (benchmarks only).
   */
  readonly ledger?: Ledger;
}

/** What a successful request returns. */
export interface IssuanceResult {
  readonly caller: AuthenticatedCaller;
  readonly certificate: IssuedCertificate;
}

/** The IP of a gRPC peer string (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`, `1.2.3.4:5678`), the rate-limit key of a caller. */
export function peerIp(peer: string | undefined): string {
  if (!peer) return '';
  const noScheme = peer.replace(/^ipv[46]:/, '');
  const m = /^\[([^\]]+)\]:\d+$/.exec(noScheme) ?? /^(.*):\d+$/.exec(noScheme);
  return m ? m[1]! : noScheme;
}

/** Lowercase hex SHA-256 of a token: logs and the ledger carry this, never the token. */
export function tokenHash(token: string | undefined): string | undefined {
  return token === undefined ? undefined : sha256OfToken(token);
}

/**
 * The issuance pipeline (STYLE: authenticate → authorize → build/validate/sign → record), shared by
 * Istio's CreateCertificate and Castellan's Sign.
 */
export class IssuanceService {
  constructor(private readonly o: IssuanceServiceOptions) {}

  /**
   * Authenticates the caller (its token if it sent one, else its client certificate).
   * Throws CastellanError with an auth code; counts failures by reason.
   */
  async authenticate(credentials: CallerCredentials): Promise<AuthenticatedCaller> {
    try {
      if (!this.o.perPeerLimit.take(peerIp(credentials.peerAddress))) {
        throw caError('ERR_RATE_LIMITED', 'ca: too many requests from this address; retry with backoff');
      }
      if (credentials.token !== undefined && credentials.token !== '') {
        if (!this.o.tokenAuthenticator) throw new CastellanError('ERR_TOKEN_REJECTED', 'auth: this CA accepts no bearer tokens; present a client certificate');
        return await this.o.tokenAuthenticator.authenticate(credentials);
      }
      if (credentials.peerCertificates && credentials.peerCertificates.length > 0 && this.o.clientCertificateAuthenticator) {
        return await this.o.clientCertificateAuthenticator.authenticate(credentials);
      }
      throw new CastellanError('ERR_TOKEN_MISSING', 'auth: no credentials: send "authorization: Bearer <service-account token>" metadata');
    } catch (err) {
      this.o.metrics.authFailures.inc({ reason: isCastellanError(err) ? err.code : 'ERR_INTERNAL' });
      throw err;
    }
  }

  /**
   * Authenticates and authorizes the caller and charges the global and per-identity budgets, as
   * `issue` does before it signs (the `Authenticate` RPC: a node agent proving or re-checking a pod's
   * token). Nothing is signed or recorded in the ledger.
   */
  async confirm(credentials: CallerCredentials): Promise<AuthenticatedCaller> {
    const caller = await this.authenticate(credentials);
    this.o.authorize(caller);
    if (!this.o.globalLimit.take()) throw caError('ERR_RATE_LIMITED', 'ca: the CA is at its request rate limit; retry with backoff');
    if (!this.o.perIdentityLimit.take(caller.spiffeId.toString())) {
      throw caError('ERR_RATE_LIMITED', `ca: too many requests for ${caller.spiffeId.toString()}; retry with backoff`);
    }
    return caller;
  }

  /**
   * Signs `csr` for the authenticated caller. `cancelled` is polled after the asynchronous steps so a
   * request whose deadline passed does not consume a signature.
   */
  async issue(
    credentials: CallerCredentials,
    csr: string | Uint8Array | CertificateRequest,
    ttlMs: number | undefined,
    api: 'istio' | 'castellan',
    cancelled: () => boolean = () => false,
  ): Promise<IssuanceResult> {
    const started = performance.now();
    const issuer = this.o.issuer();
    const authority = issuer.authority;
    let caller: AuthenticatedCaller | undefined;
    let request: CertificateRequest | undefined;
    let csrSpki: Uint8Array | undefined;
    // The token authenticators already hash the token (caller.tokenSha256): hashing it again here for
    // every request cost ~10 µs of the event loop. Only refusals before authentication, and callers
    // whose authenticator did not hash it, compute it here.
    let tokenSha256Memo: string | undefined;
    const tokenSha256 = (): string | undefined => {
      if (caller?.tokenSha256 !== undefined) return caller.tokenSha256;
      tokenSha256Memo ??= tokenHash(credentials.token);
      return tokenSha256Memo;
    };
    try {
      caller = await this.authenticate(credentials);
      this.o.authorize(caller);
      if (!this.o.globalLimit.take()) throw caError('ERR_RATE_LIMITED', 'ca: the CA is at its request rate limit; retry with backoff');
      if (!this.o.perIdentityLimit.take(caller.spiffeId.toString())) {
        throw caError('ERR_RATE_LIMITED', `ca: too many requests for ${caller.spiffeId.toString()}; retry with backoff`);
      }
      if (cancelled()) throw caError('ERR_CANCELLED', 'ca: the request was cancelled or its deadline passed');
      // Parsed here, after authentication (parsing costs CPU), so refusals after it can record the CSR's key.
      // The CSR is checked and the leaf signed in a signing worker, or with the signatures on the libuv
      // thread pool (docs/architecture.md §4): requests in flight use every core while this thread
      // serves the others.
      const ttl = ttlMs === undefined ? {} : { ttlMs };
      let certificate: IssuedCertificate;
      if (typeof csr === 'string' || csr instanceof Uint8Array) {
        certificate = await issuer.issueCsr(caller.spiffeId, csr, {
          ...ttl,
          onParsed: (spki) => {
            csrSpki = spki;
          },
        });
      } else {
        request = csr;
        certificate = await issuer.issueAsync(caller.spiffeId, request, ttl);
      }
      if (this.o.ledger) {
        // docs/architecture.md §7: the certificate leaves the CA only once its record is committed.
        try {
          await this.o.ledger.append(issuedEntry({ api, caller, tokenSha256: tokenSha256(), peer: credentials.peerAddress, authority }, certificate));
        } catch (cause) {
          this.o.log.error({ err: cause, serial: certificate.serialHex }, 'ledger write failed: certificate discarded');
          throw new CastellanError('ERR_LEDGER_UNAVAILABLE', 'ca: the issuance ledger is unavailable, so no certificate was issued; retry later', { cause });
        }
      }
      this.o.metrics.csrs.inc({ outcome: 'issued', api });
      this.o.metrics.issuanceSeconds.observe((performance.now() - started) / 1000);
      this.o.log.info(
        {
          event: 'issued',
          api,
          spiffeId: caller.spiffeId.toString(),
          serial: certificate.serialHex,
          notAfter: certificate.notAfter.toISOString(),
          authenticator: caller.authenticator,
          pod: caller.pod?.name,
          tokenSha256: tokenSha256(),
          peer: credentials.peerAddress,
        },
        'certificate issued',
      );
      return { caller, certificate };
    } catch (err) {
      const e = callErrorFor(err);
      this.o.metrics.csrs.inc({ outcome: e.reason, api });
      await this.refused(
        err,
        { api, caller, tokenSha256: tokenSha256(), peer: credentials.peerAddress, csrSpki: csrSpki ?? request?.spki, authority },
        { failed: 'issuance failed', refused: 'request refused' },
      );
      throw err;
    }
  }

  /**
   * What every refused request does (certificates here, JWT-SVIDs in jwt-svid-service.ts), before its
   * error is answered: one log line (error for a bug, warn with the cause for an authentication backend
   * that cannot answer, info otherwise; none for a ledger that is down, which said so itself) and its
   * ledger record (docs/architecture.md §7) — one summary per address and interval for the per-address
   * limit before authentication, which costs the client nothing (the ledger cannot be flooded). A
   * record that cannot be written is logged; the caller still gets its refusal.
   */
  async refused(err: unknown, facts: RequestFacts & { readonly authority: SigningAuthority }, say: { readonly failed: string; readonly refused: string }): Promise<void> {
    const e = callErrorFor(err);
    const entry = { event: 'refused', api: facts.api, reason: e.reason, spiffeId: facts.caller?.spiffeId.toString(), tokenSha256: facts.tokenSha256, peer: facts.peer };
    if (e.code === status.INTERNAL) this.o.log.error({ ...entry, err }, say.failed);
    else if (e.reason === 'ERR_AUTH_BACKEND_UNAVAILABLE')
      this.o.log.warn({ ...entry, detail: (err as Error).message, cause: String((err as Error).cause ?? '') }, 'authentication backend unavailable');
    else if (e.reason !== 'ERR_LEDGER_UNAVAILABLE') this.o.log.info({ ...entry, detail: (err as Error).message }, say.refused);
    if (!this.o.ledger || e.reason === 'ERR_LEDGER_UNAVAILABLE') return;
    if (e.reason === 'ERR_RATE_LIMITED' && facts.caller === undefined) {
      this.o.ledger.appendSummarized(peerIp(facts.peer), refusedEntry({ api: facts.api, tokenSha256: facts.tokenSha256, peer: facts.peer, authority: facts.authority }, e.reason));
      return;
    }
    await this.o.ledger.append(refusedEntry(facts, e.reason)).catch((cause: unknown) => this.o.log.error({ err: cause, reason: e.reason }, 'ledger write failed for a refusal'));
  }
}

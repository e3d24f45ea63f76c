import type { Logger } from 'pino';
import { CastellanError, type AuthenticatedCaller, type CallerCredentials } from '../../workload-identity/index.js';
import type { IssuedJwtSvid, JwtSvidIssuer } from '../jwt-svid-issuer.js';
import type { SigningAuthority } from '../issuer.js';
import { jwtSvidIssuedEntry, refusedEntry, type Ledger } from '../ledger/index.js';
import { callErrorFor } from './grpc-status.js';
import { peerIp, tokenHash, type IssuanceService } from './issuance-service.js';
import type { CaMetrics } from './metrics.js';

export interface JwtSvidServiceOptions {
  /** Authentication, authorization and rate limits, shared with X.509 issuance. */
  readonly service: IssuanceService;
  readonly issuer: JwtSvidIssuer;
  /** The authority refusals are recorded under (the active one). */
  readonly authority: () => SigningAuthority;
  readonly metrics: CaMetrics;
  readonly log: Logger;
  readonly ledger?: Ledger;
}

/**
 * The JWT-SVID pipeline (docs/jwt-svid.md): authenticate and authorize the caller exactly as for a
 * certificate (its credentials decide `sub`, never the request), check the audience and lifetime, sign,
 * and record the issuance in the ledger before the token leaves the CA. Refusals are recorded too.
 *
 * @example const { token } = await jwtSvids.issue(credentials, ['spiffe://example.org/api'], 0);
 */
export class JwtSvidService {
  constructor(private readonly o: JwtSvidServiceOptions) {}

  async issue(
    credentials: CallerCredentials,
    audience: readonly unknown[],
    ttlMs: number,
    cancelled: () => boolean = () => false,
  ): Promise<{ caller: AuthenticatedCaller; jwt: IssuedJwtSvid }> {
    let caller: AuthenticatedCaller | undefined;
    const tokenSha256 = () => caller?.tokenSha256 ?? tokenHash(credentials.token);
    try {
      caller = await this.o.service.confirm(credentials);
      if (cancelled()) throw new CastellanError('ERR_CANCELLED', 'ca: the request was cancelled or its deadline passed');
      const jwt = this.o.issuer.issue(caller.spiffeId, audience, ttlMs);
      if (this.o.ledger) {
        try {
          await this.o.ledger.append(
            jwtSvidIssuedEntry(
              { api: 'jwt-svid', caller, tokenSha256: tokenSha256(), peer: credentials.peerAddress, authority: jwt.authority },
              {
                spiffeId: jwt.spiffeId.toString(),
                jti: jwt.jti,
                keyId: jwt.keyId,
                algorithm: jwt.algorithm,
                audience: jwt.audience,
                issuedAt: jwt.issuedAt,
                expiresAt: jwt.expiresAt,
              },
            ),
          );
        } catch (cause) {
          this.o.log.error({ err: cause, jti: jwt.jti }, 'ledger write failed: JWT-SVID discarded');
          throw new CastellanError('ERR_LEDGER_UNAVAILABLE', 'ca: the issuance ledger is unavailable, so no JWT-SVID was issued; retry later', { cause });
        }
      }
      this.o.metrics.jwtSvids.inc({ outcome: 'issued' });
      this.o.log.info(
        {
          event: 'issued',
          api: 'jwt-svid',
          spiffeId: jwt.spiffeId.toString(),
          jti: jwt.jti,
          kid: jwt.keyId,
          audience: jwt.audience,
          expiresAt: jwt.expiresAt.toISOString(),
          tokenSha256: tokenSha256(),
          peer: credentials.peerAddress,
        },
        'JWT-SVID issued',
      );
      return { caller, jwt };
    } catch (err) {
      const e = callErrorFor(err);
      this.o.metrics.jwtSvids.inc({ outcome: e.reason });
      const entry = { event: 'refused', api: 'jwt-svid', reason: e.reason, spiffeId: caller?.spiffeId.toString(), tokenSha256: tokenSha256(), peer: credentials.peerAddress };
      if (e.code === 13 /* INTERNAL */) this.o.log.error({ ...entry, err }, 'JWT-SVID issuance failed');
      else this.o.log.info({ ...entry, detail: (err as Error).message }, 'JWT-SVID request refused');
      // As for certificates (issuance-service.ts): every refusal is recorded, those of the per-address
      // limit before authentication as one summary per address and interval.
      const facts = { api: 'jwt-svid' as const, caller, tokenSha256: tokenSha256(), peer: credentials.peerAddress, authority: this.o.authority() };
      if (this.o.ledger && e.reason === 'ERR_RATE_LIMITED' && caller === undefined) {
        this.o.ledger.appendSummarized(peerIp(credentials.peerAddress), refusedEntry(facts, e.reason));
      } else if (this.o.ledger && e.reason !== 'ERR_LEDGER_UNAVAILABLE') {
        await this.o.ledger
          .append(refusedEntry(facts, e.reason))
          .catch((cause: unknown) => this.o.log.error({ err: cause, reason: e.reason }, 'ledger write failed for a refusal'));
      }
      throw err;
    }
  }
}

import type { Logger } from 'pino';
import { CastellanError, type AuthenticatedCaller, type CallerCredentials } from '../../workload-identity/index.js';
import type { IssuedJwtSvid, JwtSvidIssuer } from '../jwt-svid-issuer.js';
import type { SigningAuthority } from '../issuer.js';
import { jwtSvidIssuedEntry, type Ledger } from '../ledger/index.js';
import { callErrorFor } from './grpc-status.js';
import { tokenHash, type IssuanceService } from './issuance-service.js';
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
    let tokenSha256Memo: string | undefined;
    const tokenSha256 = () => {
      if (caller?.tokenSha256 !== undefined) return caller.tokenSha256;
      tokenSha256Memo ??= tokenHash(credentials.token);
      return tokenSha256Memo;
    };
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
      this.o.metrics.jwtSvids.inc({ outcome: callErrorFor(err).reason });
      const facts = { api: 'jwt-svid' as const, caller, tokenSha256: tokenSha256(), peer: credentials.peerAddress, authority: this.o.authority() };
      await this.o.service.refused(err, facts, { failed: 'JWT-SVID issuance failed', refused: 'JWT-SVID request refused' });
      throw err;
    }
  }
}

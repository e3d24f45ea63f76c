import type { SpiffeId } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';
import type { JwtSvid } from './secret-source.js';

/** Entries kept at most; the one that expires first goes when more come. */
export const MAX_CACHED_JWT_SVIDS = 1000;

/**
 * JWT-SVIDs by identity and audience set (docs/jwt-svid.md): a token is handed out again while more
 * than half of its lifetime is left, so a workload asking before every request costs the CA one
 * signature per half-lifetime; concurrent requests for the same key share one CA call.
 *
 * @example const jwt = await cache.get(id, ['api'], () => ca.signJwtSvid({ token, audience: ['api'], agentId }));
 */
export class JwtSvidCache {
  private readonly entries = new Map<string, JwtSvid>();
  private readonly pending = new Map<string, Promise<JwtSvid>>();

  constructor(
    private readonly clock: Pick<AgentClock, 'now'>,
    private readonly max = MAX_CACHED_JWT_SVIDS,
  ) {}

  /** The key of an identity and audience set: the order and repeats of audiences do not matter. */
  static keyOf(id: SpiffeId, audience: readonly string[]): string {
    return `${id.toString()}\n${[...new Set(audience)].sort().join('\n')}`;
  }

  async get(id: SpiffeId, audience: readonly string[], sign: () => Promise<JwtSvid>): Promise<JwtSvid> {
    const key = JwtSvidCache.keyOf(id, audience);
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && fresh(hit, now)) return hit;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const p = sign()
      .then((jwt) => {
        this.put(key, jwt);
        return jwt;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  /** Forgets every token of `id` (its credentials were refused). */
  forget(id: SpiffeId): void {
    const prefix = `${id.toString()}\n`;
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }

  private put(key: string, jwt: JwtSvid): void {
    const now = this.clock.now().getTime();
    for (const [k, v] of this.entries) if (!fresh(v, now)) this.entries.delete(k);
    while (this.entries.size >= this.max) {
      let first: [string, JwtSvid] | undefined;
      for (const e of this.entries) if (!first || e[1].expiresAt < first[1].expiresAt) first = e;
      this.entries.delete(first![0]);
    }
    this.entries.set(key, jwt);
  }
}

/** More than half of the token's lifetime is left. */
function fresh(jwt: JwtSvid, now: number): boolean {
  const iat = jwt.issuedAt.getTime();
  const exp = jwt.expiresAt.getTime();
  return now < iat + (exp - iat) / 2;
}

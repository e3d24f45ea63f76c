import type { AuthenticatedCaller } from './authenticator.js';

/**
 * Callers whose token verified, by the token's SHA-256, until the token's `exp` (plus the clock
 * tolerance the verifier allows): a token presented again skips the signature and claim checks, as
 * TokenReview results already do (docs/architecture.md §2). Only successes are kept, so a refusal is
 * always the verifier's own; an entry past its expiry is dropped and the token is verified again (and
 * refused ERR_TOKEN_EXPIRED as before). Bounded: the oldest entry goes when it is full.
 *
 * @example const cache = new VerifiedTokenCache(10_000); cache.set(sha, caller, exp); cache.get(sha, nowSeconds);
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { caller: AuthenticatedCaller; validUntil: number }>();

  constructor(private readonly maxEntries: number) {}

  /** The caller of a token that verified, while `nowSeconds` is before `validUntil`. */
  get(sha: string, nowSeconds: number): AuthenticatedCaller | undefined {
    const e = this.entries.get(sha);
    if (e === undefined) return undefined;
    if (nowSeconds >= e.validUntil) {
      this.entries.delete(sha);
      return undefined;
    }
    return e.caller;
  }

  /** Keeps `caller` for the token until `validUntil` (epoch seconds). */
  set(sha: string, caller: AuthenticatedCaller, validUntil: number): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(sha)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(sha, { caller, validUntil });
  }

  /** Forgets every token (the key set changed). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Token buckets: `ratePerSecond` refill, `burst` capacity. */
export interface RateLimit {
  /** Sustained requests per second. */
  readonly ratePerSecond: number;
  /** Requests allowed at once above the sustained rate. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-key token buckets with a bounded number of keys (least recently used dropped first, which only
 * ever forgives a caller, never punishes one).
 *
 * @example const rl = new RateLimiter({ ratePerSecond: 5, burst: 20 }); if (!rl.take('ns/sa')) refuse();
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => Date.now(),
    private readonly maxKeys = 100_000,
  ) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new TypeError('RateLimiter: ratePerSecond must be > 0 and burst >= 1');
  }

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key = ''): boolean {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-insert: Map order is our LRU order
      b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.ratePerSecond);
      b.at = t;
    } else {
      b = { tokens: this.limit.burst, at: t };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

import { CastellanError } from '../workload-identity/index.js';

/** How long a token the CA refused is refused locally without asking again, ms. */
export const REFUSED_TOKEN_MEMORY_MS = 30_000;
/** At most this many refused tokens are remembered (oldest forgotten first). */
export const REFUSED_TOKEN_LIMIT = 10_000;
/** Token proofs (key generation + one CA call each) running at once. */
export const PROOFS_IN_FLIGHT = 4;
/** Token proofs waiting for a slot; beyond this a stream is refused UNAVAILABLE. */
export const PROOFS_QUEUED = 64;

/**
 * What bounds the work a node-mode agent does for streams it cannot yet trust: every new token costs a
 * key generation and a CA round trip, and any local process can open streams. Refused tokens (by
 * SHA-256) are refused again locally for a while (bounded map, oldest first out), and proofs run at most
 * `inFlight` at a time with at most `queued` waiting.
 *
 * @example
 *   const guard = new TokenProofGuard(() => Date.now());
 *   guard.checkNotRefused(sha);
 *   const id = await guard.run(() => proveWithCa(token));
 */
export class TokenProofGuard {
  private readonly refused = new Map<string, { until: number; error: CastellanError }>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly now: () => number,
    private readonly o: { memoryMs?: number; memoryLimit?: number; inFlight?: number; queued?: number } = {},
  ) {}

  /** Remembers that the CA refused the token with this SHA-256, and why (the same answer is given again). */
  rememberRefused(sha: string, error: CastellanError): void {
    this.refused.delete(sha); // re-insert: Map order is insertion order, the oldest is first
    this.refused.set(sha, { until: this.now() + (this.o.memoryMs ?? REFUSED_TOKEN_MEMORY_MS), error });
    const limit = this.o.memoryLimit ?? REFUSED_TOKEN_LIMIT;
    while (this.refused.size > limit) this.refused.delete(this.refused.keys().next().value!);
  }

  /** Throws the CA's refusal again (same code and reason) when the CA refused this token recently. */
  checkNotRefused(sha: string): void {
    const hit = this.refused.get(sha);
    if (hit === undefined) return;
    if (hit.until <= this.now()) {
      this.refused.delete(sha);
      return;
    }
    throw new CastellanError(hit.error.code, `${hit.error.message} (remembered: the CA refused this token moments ago)`, { cause: hit.error });
  }

  /** Tokens remembered as refused now (for tests and metrics). */
  get refusedCount(): number {
    return this.refused.size;
  }

  /** Runs `fn` when a slot is free; throws ERR_NOT_READY (UNAVAILABLE) at once when the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= (this.o.inFlight ?? PROOFS_IN_FLIGHT)) {
      if (this.waiting.length >= (this.o.queued ?? PROOFS_QUEUED)) {
        throw new CastellanError('ERR_NOT_READY', 'sds: too many streams are waiting for their token to be proved by the CA; retry shortly');
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      // Hand the slot to the next waiter directly, so `running` never drops below the real count.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

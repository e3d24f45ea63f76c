/** Capped exponential backoff with jitter (the retry policy of every call the agent makes to the CA). */
export interface BackoffOptions {
  /** First retry delay, ms. Default 1000. */
  readonly initialMs?: number;
  /** Longest delay, ms. Default 60000. */
  readonly maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  readonly multiplier?: number;
  /** Relative spread around the nominal delay, 0..1 (0.2: ±20 %). Default 0.2. */
  readonly jitter?: number;
}

export const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 60_000, multiplier: 2, jitter: 0.2 } as const;

/**
 * The delay before retry number `attempt` (0 = the first retry): `initial · multiplier^attempt`, capped
 * at `maxMs`, spread by ±jitter so that agents that lost the CA together do not return together
 * (gRPC connection-backoff.md uses the same shape).
 *
 * @example backoffDelay(3, { initialMs: 100, maxMs: 1_000, jitter: 0 }) // 800
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = o.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const max = o.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const mult = o.multiplier ?? DEFAULT_BACKOFF.multiplier;
  const jitter = o.jitter ?? DEFAULT_BACKOFF.jitter;
  const nominal = Math.min(max, initial * mult ** Math.max(0, attempt));
  return Math.max(0, Math.min(max, Math.round(nominal * (1 + jitter * (2 * random() - 1)))));
}

/** When to renew a certificate, as fractions of its lifetime (docs/architecture.md §5). */
export interface RenewalOptions {
  /** Renew after this fraction of the lifetime, 0 < f < 1. Default 0.5. */
  readonly fraction?: number;
  /** ± this fraction of the lifetime, spread per certificate. Default 0.1 (renew between 40 % and 60 %). */
  readonly jitter?: number;
}

/**
 * Milliseconds from receiving a certificate to renewing it: `lifetime · (fraction ± jitter)`, clamped
 * into the lifetime. `lifetimeMs` is counted from receipt (not notBefore, which the CA back-dates).
 *
 * @example renewalDelay(3_600_000, { fraction: 0.5, jitter: 0 }) // 1_800_000
 */
export function renewalDelay(lifetimeMs: number, o: RenewalOptions = {}, random: () => number = Math.random): number {
  const fraction = o.fraction ?? 0.5;
  const jitter = o.jitter ?? 0.1;
  const f = Math.min(0.99, Math.max(0.001, fraction + jitter * (2 * random() - 1)));
  return Math.max(0, Math.round(lifetimeMs * f));
}

/**
 * Time as the agent sees it: the current instant and one-shot timers, injected so tests rotate
 * certificates in milliseconds and assert retry delays without sleeping (STYLE: injectable clock).
 */
export interface AgentClock {
  now(): Date;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers hold at most 2^31-1 ms (~24.8 days); a longer delay fires at once with a warning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A system timer handle: the current link of a chain of timers for delays above MAX_TIMER_MS. */
interface ChainedTimer {
  current: NodeJS.Timeout;
}

/**
 * The real clock. Timers are unref'd: the agent's sockets, not its rotation timers, keep a process alive.
 * A delay above MAX_TIMER_MS (a renewal of a long-lived certificate) is waited in links of at most that.
 *
 * @example const t = systemClock.setTimeout(() => renew(), 30_000);
 */
export const systemClock: AgentClock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => chainTimer(fn, Math.max(0, ms), setTimeout),
  clearTimeout: (handle) => clearTimeout((handle as ChainedTimer).current),
};

/** Waits `ms` in links of at most MAX_TIMER_MS (`schedule` is injectable for tests), then calls `fn`. */
export function chainTimer(fn: () => void, ms: number, schedule: (cb: () => void, ms: number) => NodeJS.Timeout): ChainedTimer {
  const handle = {} as ChainedTimer;
  const link = (left: number) => {
    const step = Math.min(left, MAX_TIMER_MS);
    handle.current = schedule(() => (left > step ? link(left - step) : fn()), step);
    handle.current.unref?.();
  };
  link(ms);
  return handle;
}

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

/**
 * The real clock. Timers are unref'd: the agent's sockets, not its rotation timers, keep a process alive.
 *
 * @example const t = systemClock.setTimeout(() => renew(), 30_000);
 */
export const systemClock: AgentClock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

import type { AgentClock } from '../../sds/agent-clock.js';

interface Pending {
  id: number;
  at: number;
  ms: number;
  fn: () => void;
}

/**
 * A clock the test moves: timers fire only from `advance`/`fireNext`, so retry and renewal delays are
 * asserted exactly and nothing sleeps. `now` starts at the real time so certificates the CA issues with
 * the real clock are valid in the same frame.
 */
export class ManualClock implements AgentClock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, Pending>();
  /** Every delay ever scheduled, in order. */
  readonly scheduled: number[] = [];

  constructor(start = Date.now()) {
    this.t = start;
  }

  now(): Date {
    return new Date(this.t);
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.t + Math.max(0, ms), ms, fn });
    this.scheduled.push(ms);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Pending timers, soonest first. */
  pending(): { at: number; ms: number }[] {
    return [...this.timers.values()].sort((a, b) => a.at - b.at || a.id - b.id).map(({ at, ms }) => ({ at, ms }));
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.values()].filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }

  /** Jumps to the soonest timer matching `filter` and fires it; returns its delay. */
  fireNext(filter: (p: { ms: number }) => boolean = () => true): number | undefined {
    const next = [...this.timers.values()].filter(filter).sort((a, b) => a.at - b.at || a.id - b.id)[0];
    if (!next) return undefined;
    this.timers.delete(next.id);
    this.t = Math.max(this.t, next.at);
    next.fn();
    return next.ms;
  }
}

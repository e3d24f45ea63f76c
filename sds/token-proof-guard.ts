import { CastellanError } from '../workload-identity/index.js';
import type { AgentClock } from './agent-clock.js';

/** How long a token the CA refused is refused locally without asking again, ms. */
export const REFUSED_TOKEN_MEMORY_MS = 30_000;
/** At most this many refused tokens are remembered (oldest forgotten first). */
export const REFUSED_TOKEN_LIMIT = 10_000;
/** Token checks (one CA call each) running at once. */
export const PROOFS_IN_FLIGHT = 4;
/** Token checks one connection may have waiting or running; beyond it a stream is refused UNAVAILABLE at once. */
export const PROOFS_PER_CONNECTION = 2;
/** How long a token check may wait for its turn before its stream is refused UNAVAILABLE, ms. */
export const PROOF_WAIT_MS = 10_000;
/**
 * Token checks started per second, sustained and in a burst: kept well below the CA's per-address
 * limit (1000/s), so a flood of forged tokens cannot make the CA refuse this node's real calls.
 */
export const PROOF_RATE_PER_SECOND = 100;
export const PROOF_BURST = 100;

export interface TokenProofLimits {
  /** See REFUSED_TOKEN_MEMORY_MS. */
  readonly memoryMs?: number;
  /** See REFUSED_TOKEN_LIMIT. */
  readonly memoryLimit?: number;
  /** See PROOFS_IN_FLIGHT. */
  readonly inFlight?: number;
  /** See PROOFS_PER_CONNECTION. */
  readonly perConnection?: number;
  /** See PROOF_WAIT_MS. */
  readonly waitMs?: number;
  /** See PROOF_RATE_PER_SECOND. */
  readonly ratePerSecond?: number;
  /** See PROOF_BURST. */
  readonly burst?: number;
}

interface Waiter {
  readonly start: () => void;
  timer: unknown;
}

/**
 * What bounds the work a node-mode agent does for streams it cannot trust yet: every new token costs a
 * CA call, and any local process that can open the socket can present tokens.
 *
 * - Refused tokens (by SHA-256) are refused again locally for a while (bounded map, oldest first out).
 * - Checks are shared fairly between the socket's connections: each connection may have
 *   `perConnection` checks waiting or running (more are refused at once), and the next check to start
 *   is that of the waiting connection served least recently (one never served, or idle since, first;
 *   ties in arrival order), so a flood on other connections delays a real pod's check by at most one
 *   turn per flooding connection instead of refusing it.
 * - At most `inFlight` run at once and at most `ratePerSecond` start per second (`burst` at once).
 * - A check waits at most `waitMs` for its turn (then UNAVAILABLE: the client retries).
 *
 * @example
 *   const guard = new TokenProofGuard(clock);
 *   guard.checkNotRefused(sha);
 *   const id = await guard.run('unix-socket:3', () => askCa(token));
 */
export class TokenProofGuard {
  private readonly refused = new Map<string, { until: number; error: CastellanError }>();
  private running = 0;
  /** Waiting checks by connection, in the order connections started waiting. */
  private readonly queues = new Map<string, Waiter[]>();
  /** Checks waiting or running, by connection. */
  private readonly active = new Map<string, number>();
  /** When each connection with checks under way last got a turn (a counter; absent: not since it was idle). */
  private readonly lastTurn = new Map<string, number>();
  private turns = 0;
  private tokens: number;
  private refilledAt: number;
  private wake: unknown;

  constructor(
    private readonly clock: AgentClock,
    private readonly o: TokenProofLimits = {},
  ) {
    this.tokens = o.burst ?? PROOF_BURST;
    this.refilledAt = clock.now().getTime();
  }

  private now(): number {
    return this.clock.now().getTime();
  }

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

  /** Checks waiting for their turn now. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /**
   * Runs `fn` (one token check) for a stream on `connection` when its turn comes. Throws ERR_NOT_READY
   * (UNAVAILABLE) at once when the connection already has `perConnection` checks, or after `waitMs`
   * without a turn.
   */
  async run<T>(connection: string, fn: () => Promise<T>): Promise<T> {
    const limit = this.o.perConnection ?? PROOFS_PER_CONNECTION;
    const mine = this.active.get(connection) ?? 0;
    if (mine >= limit) {
      throw new CastellanError('ERR_NOT_READY', `sds: this connection already has ${limit} token checks under way; wait for their answers before presenting more tokens`);
    }
    this.active.set(connection, mine + 1);
    try {
      await this.turn(connection);
      try {
        return await fn();
      } finally {
        this.running--;
        this.pump();
      }
    } finally {
      const n = (this.active.get(connection) ?? 1) - 1;
      if (n > 0) this.active.set(connection, n);
      else {
        this.active.delete(connection);
        this.lastTurn.delete(connection);
      }
    }
  }

  /** Resolves once this check may run (`running` counts it then). */
  private turn(connection: string): Promise<void> {
    if (this.queues.size === 0 && this.running < (this.o.inFlight ?? PROOFS_IN_FLIGHT) && this.takeRate()) {
      this.running++;
      this.lastTurn.set(connection, ++this.turns);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waitMs = this.o.waitMs ?? PROOF_WAIT_MS;
      const w: Waiter = { start: resolve, timer: undefined };
      w.timer = this.clock.setTimeout(() => {
        const q = this.queues.get(connection);
        const at = q?.indexOf(w) ?? -1;
        if (at < 0) return;
        q!.splice(at, 1);
        if (q!.length === 0) this.queues.delete(connection);
        reject(
          new CastellanError('ERR_NOT_READY', `sds: the token check waited ${Math.round(waitMs / 1000)} s for its turn (the agent is checking many tokens with the CA); retry`),
        );
      }, waitMs);
      const q = this.queues.get(connection);
      if (q) q.push(w);
      else this.queues.set(connection, [w]);
      this.pump();
    });
  }

  /** Starts waiting checks while slots and rate allow, the least recently served connection first. */
  private pump(): void {
    const inFlight = this.o.inFlight ?? PROOFS_IN_FLIGHT;
    while (this.running < inFlight && this.queues.size > 0) {
      if (!this.takeRate()) {
        this.wakeLater();
        return;
      }
      let pick: [string, Waiter[]] | undefined;
      let pickTurn = Infinity;
      for (const [connection, q] of this.queues) {
        const turn = this.lastTurn.get(connection) ?? 0;
        if (turn < pickTurn) {
          pick = [connection, q];
          pickTurn = turn;
          if (turn === 0) break;
        }
      }
      const [connection, q] = pick!;
      const w = q.shift()!;
      if (q.length === 0) this.queues.delete(connection);
      this.lastTurn.set(connection, ++this.turns);
      this.clock.clearTimeout(w.timer);
      this.running++;
      w.start();
    }
  }

  /** Takes one start from the rate budget (refilled continuously), or returns false. */
  private takeRate(): boolean {
    const rate = this.o.ratePerSecond ?? PROOF_RATE_PER_SECOND;
    const burst = this.o.burst ?? PROOF_BURST;
    const now = this.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private wakeLater(): void {
    if (this.wake !== undefined) return;
    const rate = this.o.ratePerSecond ?? PROOF_RATE_PER_SECOND;
    const ms = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
    this.wake = this.clock.setTimeout(() => {
      this.wake = undefined;
      this.pump();
    }, ms);
  }
}

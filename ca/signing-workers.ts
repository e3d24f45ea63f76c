import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { tight, type AuthorityMessage, type FromWorker, type IssueMessage } from './signing-messages.js';

export interface SigningWorkersOptions {
  /** Worker threads to start (config `signingWorkers`; docs/configuration.md). */
  readonly size: number;
  readonly log?: Logger;
}

interface Slot {
  worker: Worker;
  /** Jobs sent and not answered, by id. */
  readonly pending: Map<number, (m: FromWorker | Error) => void>;
  /** The generation of the last authority sent to this worker (jobs are answered in order). */
  lastGeneration: number | undefined;
  /** 'starting' until the worker said it loaded: no job goes to it before. */
  state: 'starting' | 'ready' | 'stopped';
}

/** The most workers `auto` starts: past ~3 the event loop (gRPC, authentication, ledger) is the bound (docs/benchmarks.md). */
const MAX_AUTO_WORKERS = 4;

/**
 * The signing workers of config `signingWorkers: auto` for `cores` cores: none on two cores or fewer,
 * where the machine's CPU, not the event loop, bounds issuance and a hand-off to a worker costs more CPU
 * per certificate than the libuv pool's (docs/benchmarks.md); else one per core but the event loop's, at
 * most MAX_AUTO_WORKERS.
 *
 * @example autoSigningWorkers(2) // 0
 * @example autoSigningWorkers(8) // 4
 */
export function autoSigningWorkers(cores: number = availableParallelism()): number {
  return cores <= 2 ? 0 : Math.min(cores - 1, MAX_AUTO_WORKERS);
}

/**
 * A stopped worker is replaced after this long, doubled (up to MAX_RESTART_DELAY_MS) for each worker
 * in a row that stopped before it was ready: one that cannot even load does not spin.
 */
const RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 60_000;

/**
 * The CA's signing workers (docs/architecture.md §4): worker threads that check CSRs and sign leaves,
 * one hand-off per certificate, so that issuance uses every core while the event loop keeps gRPC,
 * authentication, policy, rate limits and the ledger. Jobs go to the ready worker with the fewest in
 * flight. A worker that stops fails its jobs in flight (the Issuer then signs them on its own thread)
 * and is replaced; while none is ready, `run` takes no job and the Issuer signs on its own thread.
 *
 * @example
 *   const workers = new SigningWorkers({ size: 2, log });
 *   workers.start();
 *   const issuer = new Issuer({ authority, workers });
 *   await workers.close();
 */
export class SigningWorkers {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers that stopped in a row before they were ready (the restart back-off). */
  private failedStarts = 0;
  private answeredJobs = 0;

  constructor(private readonly o: SigningWorkersOptions) {
    if (!Number.isInteger(o.size) || o.size < 1) throw new TypeError(`SigningWorkers: size ${o.size} must be an integer >= 1`);
  }

  /** Starts the threads (once); jobs go to each as soon as it has loaded. */
  start(): void {
    if (this.slots.length > 0 || this.closed) return;
    for (let i = 0; i < this.o.size; i++) this.slots.push(this.spawn());
  }

  /** Workers this pool runs when all are up. */
  get size(): number {
    return this.o.size;
  }

  /** Jobs the workers answered (signed or refused) since the pool started. */
  get answered(): number {
    return this.answeredJobs;
  }

  /** Workers ready now. */
  get running(): number {
    return this.slots.filter((s) => s.state === 'ready').length;
  }

  /** True when a worker can take a job. */
  get available(): boolean {
    return !this.closed && this.slots.some((s) => s.state === 'ready');
  }

  /**
   * Hands one job to the ready worker with the fewest in flight, with `authority` first when that
   * worker was last sent another one. Resolves with the worker's answer; rejects when the worker stops
   * before answering. Undefined, at once, when no worker is ready (the caller signs on its own thread).
   */
  run(authority: AuthorityMessage, job: Omit<IssueMessage, 'kind' | 'id' | 'generation'>): Promise<FromWorker> | undefined {
    if (this.closed) return undefined;
    let slot: Slot | undefined;
    for (const s of this.slots) if (s.state === 'ready' && (slot === undefined || s.pending.size < slot.pending.size)) slot = s;
    if (slot === undefined) return undefined;
    const id = this.nextId++;
    const chosen = slot;
    return new Promise<FromWorker>((resolve, reject) => {
      chosen.pending.set(id, (m) => (m instanceof Error ? reject(m) : resolve(m)));
      try {
        if (chosen.lastGeneration !== authority.generation) {
          chosen.worker.postMessage(authority);
          chosen.lastGeneration = authority.generation;
        }
        const csr = typeof job.csr === 'string' ? job.csr : tight(job.csr);
        chosen.worker.postMessage({ kind: 'issue', id, generation: authority.generation, ...job, csr } satisfies IssueMessage);
      } catch (err) {
        chosen.pending.delete(id);
        chosen.lastGeneration = undefined;
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Stops every worker; jobs in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => 0)));
  }

  private spawn(): Slot {
    const slot: Slot = { worker: spawnSigningWorker(), pending: new Map(), lastGeneration: undefined, state: 'starting' };
    const { worker } = slot;
    worker.unref();
    worker.on('message', (m: FromWorker | { readonly ready: true }) => {
      if ('ready' in m) {
        if (slot.state === 'starting') slot.state = 'ready';
        this.failedStarts = 0;
        return;
      }
      const answer = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      this.answeredJobs++;
      answer?.(m);
    });
    const stopped = (why: string, err?: Error) => {
      if (slot.state === 'stopped') return;
      const wasReady = slot.state === 'ready';
      slot.state = 'stopped';
      for (const answer of slot.pending.values()) answer(new Error(`ca: a signing worker stopped (${why}) before it answered`));
      slot.pending.clear();
      if (this.closed) return;
      if (!wasReady) this.failedStarts++;
      const delay = Math.min(RESTART_DELAY_MS * 2 ** Math.max(0, this.failedStarts - 1), MAX_RESTART_DELAY_MS);
      this.o.log?.error({ err, why, restartInMs: delay }, wasReady ? 'a CA signing worker stopped; starting another' : 'a CA signing worker failed to start; trying again');
      setTimeout(() => {
        if (this.closed) return;
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots[i] = this.spawn();
      }, delay).unref();
    };
    worker.on('error', (err) => stopped(err.message, err));
    worker.on('exit', (code) => stopped(`exit code ${code}`));
    return slot;
  }
}

/**
 * The worker thread running ca/signing-worker: its compiled module next to this one, or, when the CA
 * runs from its TypeScript sources (the tests), the source through tsx's loader.
 */
function spawnSigningWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./signing-worker.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
  }
  return new Worker(new URL('./signing-worker.js', here));
}

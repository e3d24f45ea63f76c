/**
 * Group commit: callers enqueue items and get a promise; items that arrive while nothing is being
 * written are collected until the end of the current event-loop turn (setImmediate), items that arrive
 * during a write wait for it to finish. Each batch goes to `commit` in one call (one transaction), and
 * every caller's promise settles only after that call settled: N concurrent requests cost one COMMIT.
 *
 * @example const q = new GroupCommit(async (xs: number[]) => xs.map((x) => x * 2)); await q.add(21) // 42
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private readonly running = new Set<Promise<void>>();

  /**
   * `commit` returns one result per item, in order. `maxBatch` bounds one transaction. `maxInFlight`
   * batches may be committing at once (a pipeline: batch k+1 is handed over while batch k commits);
   * `commit` must then keep their order itself.
   */
  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 1000,
    private readonly maxInFlight = 1,
  ) {}

  /** Queues `item`; resolves with its result once its batch is committed, rejects if the batch failed. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting or being written. */
  get size(): number {
    return this.pending.length;
  }

  /** Resolves when everything queued so far has been committed (or failed). */
  async drain(): Promise<void> {
    while (this.running.size > 0 || this.pending.length > 0 || this.scheduled) {
      if (this.running.size === 0 && !this.scheduled) this.schedule();
      await (this.running.size > 0 ? Promise.race(this.running) : new Promise<void>((r) => setImmediate(r)));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running.size >= this.maxInFlight) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      const p: Promise<void> = this.flush().finally(() => {
        this.running.delete(p);
        if (this.pending.length > 0) this.schedule();
      });
      this.running.add(p);
    };
    setImmediate(go);
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    try {
      const results = await this.commit(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}

/**
 * Group commit: callers enqueue items and get a promise; items that arrive while nothing is being
 * written are collected until the end of the current event-loop turn (setImmediate), items that arrive
 * during a write wait for it to finish and form the next, larger batch. Each batch goes to `commit` in
 * one call (one transaction), and every caller's promise settles only after that call settled: N
 * concurrent requests cost one COMMIT. One batch is in flight at a time.
 *
 * @example const q = new GroupCommit(async (xs: number[]) => xs.map((x) => x * 2)); await q.add(21) // 42
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private running: Promise<void> | undefined;

  /**
   * `commit` returns one result per item, in order. `maxBatch` bounds one transaction. At most
   * `maxPending` items wait (a store that hangs or crawls must not grow memory without bound): `add`
   * beyond that rejects at once with `overflow()`.
   */
  constructor(
    private readonly commit: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 1000,
    private readonly maxPending = 10_000,
    private readonly overflow: () => Error = () => new Error(`group commit: more than ${maxPending} items waiting`),
  ) {}

  /** Queues `item`; resolves with its result once its batch is committed, rejects if the batch failed or the queue is full. */
  add(item: T): Promise<R> {
    if (this.pending.length >= this.maxPending) return Promise.reject(this.overflow());
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting (not yet handed to `commit`). */
  get size(): number {
    return this.pending.length;
  }

  /** Resolves when everything queued so far has been committed (or failed). */
  async drain(): Promise<void> {
    while (this.running || this.pending.length > 0 || this.scheduled) {
      if (!this.running && !this.scheduled) this.schedule();
      await (this.running ?? new Promise<void>((r) => setImmediate(r)));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.flush().finally(() => {
        this.running = undefined;
        if (this.pending.length > 0) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    try {
      const results = await this.commit(batch.map((b) => b.item));
      for (const [i, b] of batch.entries()) b.resolve(results[i]!);
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}

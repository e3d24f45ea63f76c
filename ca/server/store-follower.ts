import type { Logger } from 'pino';
import { flushPendingRecords, intermediateRotationDue, rotateIntermediate, type LifecycleRecorder } from '../authority-rotation.js';
import type { KeyProvider } from '../key-provider.js';
import { loadSnapshot, type CaDirectory } from '../load-ca.js';
import type { CaStore } from '../store/index.js';

export interface StoreFollowerOptions {
  readonly store: CaStore;
  readonly keys: KeyProvider;
  /** How often rotation due dates and pending records are checked (changes of the store arrive by watch). */
  readonly intervalMs: number;
  /** The CA the server serves now, and how to install a newer one. */
  readonly current: () => CaDirectory;
  readonly apply: (ca: CaDirectory) => void;
  /** Rotate the active intermediate at this fraction of its lifetime; 1 or more: never. */
  readonly intermediateRotateAt: number;
  readonly intermediateTtlMs?: number;
  readonly ledger?: LifecycleRecorder;
  /** Whether this replica runs the singleton jobs now (the Kubernetes Lease holder); default always. */
  readonly isLeader?: () => boolean;
  /** The store could not be read or watched (for /readyz detail and metrics); undefined: it is fine again. */
  readonly onProblem?: (problem: string | undefined) => void;
  readonly now: () => Date;
  readonly log: Logger;
}

/**
 * Keeps a running CA in step with its store (docs/architecture.md §6): applies what `castellan root` or
 * another replica commits as soon as the store reports a change, writes lifecycle records left pending
 * to the ledger, and rotates the intermediate when it is due (on the leader only; a replica that loses
 * the race finds the rotation done and applies it). One check at a time. While the store is unreadable
 * the CA keeps signing with what it has.
 *
 * @example const f = new StoreFollower({ store, keys, intervalMs: 2000, current: () => server.directory, apply: (ca) => server.applyDirectory(ca), intermediateRotateAt: 0.5, now, log }); f.start();
 */
export class StoreFollower {
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private flushFailedAt = -Infinity;
  private failingSince: number | undefined;
  private lastFailureLog = -Infinity;
  private lastVersion: string;
  /** The intermediate whose automatic rotation failed last, and when: retried every 10 minutes, not every tick. */
  private failed: { serial: string; at: number } | undefined;

  constructor(private readonly o: StoreFollowerOptions) {
    this.lastVersion = o.current().snapshot.version;
  }

  start(): void {
    this.unwatch = this.o.store.watch(
      () => void this.tick(),
      (err) => {
        this.o.log.warn({ err, store: this.o.store.location }, 'ca store: watch failed; retrying (the CA keeps signing with what it has)');
        this.o.onProblem?.(`cannot watch ${this.o.store.location}: ${err.message}`);
      },
    );
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** One check now (and one more after it if asked meanwhile). Resolves when done. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.check();
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unwatch?.();
    await this.running;
  }

  private async check(): Promise<void> {
    try {
      await this.reloadIfChanged();
      if (this.failingSince !== undefined) this.o.log.info({ store: this.o.store.location, downMs: this.o.now().getTime() - this.failingSince }, 'ca store: readable again');
      this.failingSince = undefined;
      this.o.onProblem?.(undefined);
    } catch (err) {
      // Once when it starts failing, then once a minute: a store that is down must not flood the log.
      const at = this.o.now().getTime();
      if (this.failingSince === undefined || at - this.lastFailureLog >= 60_000) {
        this.o.log.error(
          { err, store: this.o.store.location, failingForMs: at - (this.failingSince ?? at) },
          'ca store: cannot read it; the CA keeps signing with what it has and retries',
        );
        this.lastFailureLog = at;
      }
      this.failingSince ??= at;
      this.o.onProblem?.(`cannot read ${this.o.store.location}: ${(err as Error).message}`);
      return;
    }
    try {
      await this.rotateIfDue();
    } catch (err) {
      this.o.log.error({ err }, 'intermediate rotation check failed; retrying at the next interval');
    }
  }

  private async reloadIfChanged(): Promise<void> {
    const snap = await this.o.store.read();
    if (!snap) throw new Error(`${this.o.store.location} holds no CA any more`);
    if (snap.version !== this.lastVersion) {
      const ca = await loadSnapshot(this.o.store, snap, this.o.keys);
      this.lastVersion = snap.version;
      if (ca.bundleSequence !== this.o.current().bundleSequence || ca.pendingRecords.length !== this.o.current().pendingRecords.length) {
        this.o.log.info({ bundleSequence: ca.bundleSequence, active: ca.active.id, prepared: ca.prepared?.id }, 'ca store changed; applying');
      }
      this.o.apply(ca);
    }
    const pending = snap.state.pendingRecords?.length ?? 0;
    // The leader writes what a crashed transition left pending (once, not once per replica); while the
    // ledger fails, it retries every 30 s, not every tick.
    const leader = !this.o.isLeader || this.o.isLeader();
    if (pending > 0 && leader && this.o.ledger && this.o.now().getTime() - this.flushFailedAt >= 30_000) {
      try {
        const n = await flushPendingRecords(this.o.store, this.o.ledger);
        if (n > 0) this.o.log.info({ records: n }, 'ca store: pending lifecycle records written to the ledger');
        this.again = true;
      } catch (err) {
        this.flushFailedAt = this.o.now().getTime();
        this.o.log.error({ err }, 'ca store: pending lifecycle records could not be written to the ledger; retrying in 30 s');
      }
    }
  }

  private async rotateIfDue(): Promise<void> {
    if (this.o.intermediateRotateAt >= 1) return;
    if (this.o.isLeader && !this.o.isLeader()) return;
    const ca = this.o.current();
    const due = intermediateRotationDue(ca, this.o.intermediateRotateAt);
    if (this.o.now() < due || (!ca.active.hasRootKey && ca.active.record.rootOf === undefined)) return;
    const serial = ca.active.issuer.serialHex;
    if (this.failed?.serial === serial && this.o.now().getTime() - this.failed.at < 600_000) return;
    try {
      const r = await rotateIntermediate(
        { store: this.o.store, keys: this.o.keys, now: this.o.now(), ...(this.o.ledger ? { ledger: this.o.ledger } : {}) },
        {
          reason: `due at ${due.toISOString()} (${this.o.intermediateRotateAt} of its lifetime)`,
          expectIssuerSerial: serial,
          ...(this.o.intermediateTtlMs !== undefined ? { ttlMs: this.o.intermediateTtlMs } : {}),
        },
      );
      this.o.log.info({ authority: r.ca.active.id, issuerNotAfter: r.ca.active.issuer.notAfter.toISOString() }, 'intermediate rotated');
      if (r.ledgerError) this.o.log.error({ err: r.ledgerError }, 'intermediate rotation: the lifecycle record stays pending in the CA state; retried');
      this.lastVersion = r.ca.snapshot.version;
      this.o.apply(r.ca);
    } catch (err) {
      if ((err as { context?: { alreadyRotated?: boolean } }).context?.alreadyRotated) {
        this.again = true;
        return;
      }
      this.failed = { serial, at: this.o.now().getTime() };
      this.o.log.error({ err, issuerNotAfter: ca.active.issuer.notAfter.toISOString() }, 'intermediate rotation failed; retrying in 10 minutes (castellan check reports it)');
    }
  }
}

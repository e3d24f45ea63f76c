import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { flushPendingRecords, intermediateRotationDue, rotateIntermediate, type LifecycleRecorder } from '../authority-rotation.js';
import { loadCa, type CaDirectory } from '../ca-directory.js';
import { STATE_FILE } from '../ca-state.js';

export interface DirectoryFollowerOptions {
  readonly dir: string;
  /** How often ca.json is checked. */
  readonly intervalMs: number;
  /** The directory the server serves now, and how to install a newer one. */
  readonly current: () => CaDirectory;
  readonly apply: (ca: CaDirectory) => void;
  /** Rotate the active intermediate at this fraction of its lifetime; 1 or more: never. */
  readonly intermediateRotateAt: number;
  readonly intermediateTtlMs?: number;
  readonly ledger?: LifecycleRecorder;
  readonly now: () => Date;
  readonly log: Logger;
}

/**
 * Keeps a running CA in step with its directory (DESIGN §6): picks up what `castellan root` commits
 * (from this host or another replica sharing the directory), writes lifecycle records left pending to
 * the ledger, and rotates the intermediate when it is due. One tick at a time.
 *
 * @example const f = new DirectoryFollower({ dir, intervalMs: 2000, current: () => server.directory, apply: (ca) => server.applyDirectory(ca), intermediateRotateAt: 0.5, now, log }); f.start();
 */
export class DirectoryFollower {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastStamp = '';
  private stopped = false;
  private flushFailedAt = -Infinity;
  /** The intermediate whose automatic rotation failed last, and when: retried every 10 minutes, not every tick. */
  private failed: { serial: string; at: number } | undefined;

  constructor(private readonly o: DirectoryFollowerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** One check now (tests; `castellan root` run in-process). Resolves when done. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.check().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async check(): Promise<void> {
    try {
      await this.reloadIfChanged();
      await this.rotateIfDue();
    } catch (err) {
      this.o.log.error({ err }, 'ca directory: check failed; retrying at the next interval');
    }
  }

  private async reloadIfChanged(): Promise<void> {
    const st = await fs.stat(path.join(this.o.dir, STATE_FILE));
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (stamp === this.lastStamp) return;
    const ca = await loadCa(this.o.dir);
    this.lastStamp = stamp;
    if (ca.bundleSequence !== this.o.current().bundleSequence) {
      this.o.log.info({ bundleSequence: ca.bundleSequence, active: ca.active.id, prepared: ca.prepared?.id }, 'ca directory changed; applying');
      this.o.apply(ca);
    }
    // While the ledger fails, retry every 30 s, not every tick (each try holds the directory lock).
    if (ca.pendingRecords.length > 0 && this.o.ledger && this.o.now().getTime() - this.flushFailedAt >= 30_000) {
      // ca.json does not change when the flush fails: check it again at the next tick anyway.
      this.lastStamp = '';
      try {
        const n = await flushPendingRecords(this.o.dir, this.o.ledger);
        if (n > 0) this.o.log.info({ records: n }, 'ca directory: pending lifecycle records written to the ledger');
      } catch (err) {
        this.flushFailedAt = this.o.now().getTime();
        this.o.log.error({ err }, 'ca directory: pending lifecycle records could not be written to the ledger; retrying in 30 s');
      }
    }
  }

  private async rotateIfDue(): Promise<void> {
    if (this.o.intermediateRotateAt >= 1) return;
    const ca = this.o.current();
    const due = intermediateRotationDue(ca, this.o.intermediateRotateAt);
    if (this.o.now() < due || (!ca.active.hasRootKey && ca.active.record.rootOf === undefined)) return;
    const serial = ca.active.issuer.serialHex;
    if (this.failed?.serial === serial && this.o.now().getTime() - this.failed.at < 600_000) return;
    try {
      const r = await rotateIntermediate(
        { dir: this.o.dir, now: this.o.now(), ...(this.o.ledger ? { ledger: this.o.ledger } : {}) },
        { reason: `due at ${due.toISOString()} (${this.o.intermediateRotateAt} of its lifetime)`, expectIssuerSerial: ca.active.issuer.serialHex, ...(this.o.intermediateTtlMs !== undefined ? { ttlMs: this.o.intermediateTtlMs } : {}) },
      );
      this.o.log.info({ authority: r.ca.active.id, issuerNotAfter: r.ca.active.issuer.notAfter.toISOString() }, 'intermediate rotated');
      if (r.ledgerError) this.o.log.error({ err: r.ledgerError }, 'intermediate rotation: the lifecycle record stays pending in ca.json; retried');
      this.o.apply(r.ca);
    } catch (err) {
      if ((err as { context?: { alreadyRotated?: boolean } }).context?.alreadyRotated) return;
      this.failed = { serial, at: this.o.now().getTime() };
      this.o.log.error({ err, issuerNotAfter: ca.active.issuer.notAfter.toISOString() }, 'intermediate rotation failed; retrying in 10 minutes (castellan check reports it)');
    }
  }
}

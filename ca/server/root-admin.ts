import {
  activateRoot,
  flushPendingRecords,
  prepareRoot,
  retireRoot,
  rotateIntermediate,
  type LifecycleRecorder,
  type LiveLeaves,
  type RotationContext,
  type RotationResult,
} from '../authority-rotation.js';
import { formatDuration } from '../duration.js';
import type { KeyType } from '../key-type.js';
import type { KeyProvider } from '../key-provider.js';
import { storeOf, type CaStoreRef } from '../load-ca.js';
import type { LedgerStore } from '../ledger/index.js';
import { readAgentReports } from './agent-tracker.js';
import { rootStatus, type RootStatus } from './rotation-status.js';

/** Default pace of re-issuance after `root activate`: agents per second the CA should see. */
export const DEFAULT_REISSUE_RATE = 50;

export interface RootAdminOptions {
  /** The CA's store (or the path of its directory). */
  readonly store: CaStoreRef;
  /** Where new keys are made and stored ones opened. Default: in this process. */
  readonly keys?: KeyProvider;
  /** Where lifecycle records go. */
  readonly ledger: LifecycleRecorder;
  /** A reader of the ledger (unexpired leaves of an old root); undefined when the ledger is disabled. */
  readonly openStore: (() => Promise<LedgerStore>) | undefined;
  readonly now: () => Date;
  /** The CA's rotation.intermediateRotateAt (status only); absent: what the running CA published. */
  readonly rotateAt?: number;
  /** Before reading agent reports: this process's own tracker writes its report (server mode). */
  readonly beforeAgents?: () => Promise<void>;
  /** After a step: the server applies the new directory at once (server mode). */
  readonly afterStep?: () => Promise<void>;
}

/** The outcome of a step for people, and the directory's status after it. */
export interface RootStepOutcome {
  readonly message: string;
  /** Warnings (e.g. the lifecycle record is pending). */
  readonly warnings: readonly string[];
  readonly status: RootStatus;
}

/**
 * The root-rotation operations as `castellan root` runs them, on a CA directory (`--dir`) or inside the
 * running CA (`--server`, RootAdmin RPCs): the same gates and messages either way.
 *
 * @example const out = await new RootAdmin({ dir, ledger, openStore, now, rotateAt: 0.5 }).prepare({});
 */
export class RootAdmin {
  constructor(private readonly o: RootAdminOptions) {}

  async status(): Promise<RootStatus> {
    await this.o.beforeAgents?.();
    return rootStatus(this.o.store, this.o.now(), this.statusOptions());
  }

  async prepare(p: { keyType?: KeyType; rootTtlMs?: number; intermediateTtlMs?: number }): Promise<RootStepOutcome> {
    return this.step(
      (ctx) => prepareRoot(ctx, p),
      (r) => {
        const n = r.ca.prepared!;
        return (
          `prepared root ${n.id}: ${n.root.cert.subject}, key id ${n.root.ski.toString('hex')}, expires ${n.root.notAfter.toISOString()}\n` +
          `intermediate ${n.issuer.serialHex} expires ${n.issuer.notAfter.toISOString()}${n.crossSigned ? '; cross-signed by the active root (cross-cert.pem)' : ''}\n` +
          `trust bundle sequence ${r.ca.bundleSequence} now holds ${r.ca.bundle.length} roots; running CAs push it to their agents.\n` +
          `next: 'castellan root status' until every live agent serves bundle ${r.ca.bundleSequence}, then 'castellan root activate'\n`
        );
      },
    );
  }

  async activate(a: { force?: boolean; reissueRate?: number }): Promise<RootStepOutcome> {
    await this.o.beforeAgents?.();
    const agents = await readAgentReports(storeOf(this.o.store).agentReports, this.o.now());
    const rate = a.reissueRate ?? DEFAULT_REISSUE_RATE;
    const spread = Math.max(1, Math.ceil(agents.live.length / rate));
    return this.step(
      (ctx) => activateRoot(ctx, { agents, reissueSpreadSeconds: spread, ...(a.force ? { force: true } : {}) }),
      (r) =>
        `activated root ${r.ca.active.id}: new leaves are signed by intermediate ${r.ca.active.issuer.serialHex}${a.force ? ' (forced)' : ''}\n` +
        `agents re-issue within ${formatDuration(spread * 1000)} (${agents.live.length} live agents at ${rate}/s); the old root stays in the bundle.\n` +
        "next: once the old root's leaves have expired, 'castellan root retire'\n",
    );
  }

  async retire(a: { force?: boolean }): Promise<RootStepOutcome> {
    return this.step(
      (ctx) => retireRoot(ctx, { liveLeaves: (ids) => this.liveLeaves(ids), ...(a.force ? { force: true } : {}) }),
      (r) =>
        `retired: the trust bundle (sequence ${r.ca.bundleSequence}) now holds ${r.ca.bundle.length} root(s); running CAs push it to their agents${a.force ? ' (forced)' : ''}\n`,
    );
  }

  /**
   * `castellan root rotate-intermediate`: a new intermediate under the active root signs from now on;
   * the old one retires and stays valid for the leaves it signed (the roots and the bundle's roots do
   * not change). What a running CA does on its own at rotation.intermediateRotateAt, on demand: for a
   * CA that was not running when it was due (an expired intermediate stops `ca serve` and `ca mint`).
   */
  async rotateIntermediate(r: { ttlMs?: number }): Promise<RootStepOutcome> {
    return this.step(
      (ctx) => rotateIntermediate(ctx, { reason: 'operator (castellan root rotate-intermediate)', ...(r.ttlMs !== undefined ? { ttlMs: r.ttlMs } : {}) }),
      (res) => {
        const a = res.ca.active;
        const previous = res.ca.authorities.find((x) => x.id === Number(res.records[0]?.details['previous']));
        return (
          `rotated the intermediate: authority ${a.id} (intermediate ${a.issuer.serialHex}, expires ${a.issuer.notAfter.toISOString()}) signs new leaves from now on\n` +
          (previous
            ? `the previous intermediate (authority ${previous.id}) is retired; leaves it signed stay valid until they expire (at the latest ${previous.issuer.notAfter.toISOString()})\n`
            : '') +
          `the roots do not change; trust bundle sequence ${res.ca.bundleSequence}: running CAs apply it and tell their agents.\n`
        );
      },
    );
  }

  private async step(run: (ctx: RotationContext) => Promise<RotationResult>, describe: (r: RotationResult) => string): Promise<RootStepOutcome> {
    const warnings: string[] = [];
    // What a crashed step left pending goes to the ledger first (the CA does the same at start).
    try {
      const n = await flushPendingRecords(this.o.store, this.o.ledger);
      if (n > 0) warnings.push(`wrote ${n} lifecycle record(s) a previous step left pending`);
    } catch (err) {
      warnings.push(`pending lifecycle records could not be written to the ledger: ${(err as Error).message}`);
    }
    let r: RotationResult;
    try {
      r = await run({ store: this.o.store, now: this.o.now(), ledger: this.o.ledger, ...(this.o.keys ? { keys: this.o.keys } : {}) });
    } catch (err) {
      // The refusal is the answer; what was done before it (the flush) still has to be told.
      if (warnings.length > 0 && err instanceof Error) Object.assign(err, { warnings });
      throw err;
    }
    if (r.ledgerError)
      warnings.push(`the step is done, but its ledger record could not be written (${r.ledgerError.message}); it stays pending in the CA state and the CA writes it`);
    await this.o.afterStep?.();
    return { message: describe(r), warnings, status: await rootStatus(this.o.store, this.o.now(), this.statusOptions()) };
  }

  private statusOptions(): { rotateAt?: number; keys?: KeyProvider } {
    return { ...(this.o.rotateAt !== undefined ? { rotateAt: this.o.rotateAt } : {}), ...(this.o.keys ? { keys: this.o.keys } : {}) };
  }

  /** Unexpired certificates signed by these intermediates, per the ledger. */
  private async liveLeaves(issuerKeyIds: string[]): Promise<LiveLeaves | undefined> {
    if (!this.o.openStore) return undefined;
    const store = await this.o.openStore();
    try {
      let count = 0;
      let last: string | undefined;
      const validAt = this.o.now().toISOString();
      for (const issuerKeyId of issuerKeyIds) {
        const rows = await store.query({ outcome: 'issued', issuerKeyId, validAt, limit: 1_000_000 });
        count += rows.length;
        for (const r of rows) if (r.notAfter && (!last || r.notAfter > last)) last = r.notAfter;
      }
      return { count, ...(last ? { lastNotAfter: last } : {}) };
    } finally {
      await store.close();
    }
  }
}

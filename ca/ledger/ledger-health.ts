import type { LedgerWitness } from './ledger-head.js';
import type { LedgerStore } from './ledger-store.js';

/**
 * What a cheap look at a ledger found (`castellan check`, the CA's GetHealth): not a full verify, only
 * the anchors a CA checks before it records (docs/ledger.md): record 1 is the one the CA state
 * remembers, and the head witness's checkpoint is still in the store unchanged.
 * - ok: both hold (or there is nothing to compare yet);
 * - empty: no record yet and none remembered (a new CA: its first start creates the ledger);
 * - broken: truncated, rewritten, moved aside or replaced: the CA refuses to record, so it issues nothing;
 * - unavailable: it cannot be opened or read (the CA cannot issue either).
 */
export interface LedgerHealth {
  readonly state: 'ok' | 'empty' | 'broken' | 'unavailable';
  /** The store, for messages (a file, or the URL without its password). */
  readonly location?: string;
  /** The newest record's sequence number. */
  readonly lastSeq?: number;
  /** The checkpoint the head witness holds. */
  readonly headSeq?: number;
  /** What is wrong, for people (broken, unavailable). */
  readonly problem?: string;
}

/**
 * Checks a ledger's anchors: opens it with `open`, compares record 1 with `genesis` (the hash the CA
 * state remembers) and the witness's checkpoint with the record at its sequence number. Never throws.
 *
 * @example const h = await ledgerHealth(() => openLedgerStore({ dir, readOnly: true }), { genesis, witness });
 */
export async function ledgerHealth(open: () => Promise<LedgerStore>, o: { genesis?: string; witness?: LedgerWitness }): Promise<LedgerHealth> {
  let store: LedgerStore;
  try {
    store = await open();
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A ledger that does not exist is new only while the CA state remembers none.
    if (code === 'ERR_LEDGER_NOT_FOUND' && o.genesis === undefined) return { state: 'empty', problem: (err as Error).message };
    return {
      state: code === 'ERR_LEDGER_NOT_FOUND' ? 'broken' : 'unavailable',
      problem: code === 'ERR_LEDGER_NOT_FOUND' ? `${(err as Error).message}, but the CA state remembers a ledger: it was moved aside or deleted` : (err as Error).message,
    };
  }
  const location = store.location;
  try {
    const head = await o.witness?.read();
    const last = (await store.query({ limit: 1 }))[0];
    const base = { location, ...(last ? { lastSeq: last.seq } : {}), ...(head ? { headSeq: head.checkpoint.seq } : {}) };
    if (o.genesis !== undefined) {
      const first = await store.bySeq(1);
      if (first?.hash !== o.genesis) {
        return {
          state: 'broken',
          ...base,
          problem: `${first ? 'its first record is not' : 'it is empty, not'} the ledger this CA wrote (the CA state remembers record 1 as ${o.genesis.slice(0, 16)}…): moved aside, deleted or replaced`,
        };
      }
    }
    if (head) {
      const found = await store.bySeq(head.checkpoint.seq);
      if (found?.hash !== head.checkpoint.hash) {
        return {
          state: 'broken',
          ...base,
          problem: `${found ? 'holds a different' : 'has no'} record ${head.checkpoint.seq}, but the head witness ${o.witness!.location} holds checkpoint ${head.checkpoint.seq}: truncated or rewritten`,
        };
      }
    }
    return { state: last ? 'ok' : 'empty', ...base };
  } catch (err) {
    return { state: (err as { code?: string }).code === 'ERR_LEDGER_BROKEN' ? 'broken' : 'unavailable', location, problem: (err as Error).message };
  } finally {
    await store.close().catch(() => {});
  }
}

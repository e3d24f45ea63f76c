import type { NewEntry } from './ledger-record.js';

/** How often per-peer refusal summaries are written (ms). */
export const DEFAULT_SUMMARY_INTERVAL_MS = 10_000;
/** Peers tracked at once; refusals of further peers are summed under one record without a peer. */
export const MAX_SUMMARY_PEERS = 10_000;

interface Tally {
  readonly entry: NewEntry;
  readonly first: string;
  last: string;
  count: number;
}

/**
 * Per-peer summaries of refusals that cost an unauthenticated client nothing (ERR_RATE_LIMITED before
 * authentication): recording each one would let any client grow the ledger without bound. The first
 * such refusal of a peer in an interval is recorded as usual; the rest are counted and recorded as one
 * record per peer and interval: `event: 'refusal-summary'`, `details: {"count":N,"first":T,"last":T}`
 * (count = refusals not recorded one by one), time = when the summary was written.
 *
 * @example const s = new RefusalSummary(); if (s.note(ip, entry, now)) await ledger.append(entry); ... ledger entries: s.take()
 */
export class RefusalSummary {
  private readonly tallies = new Map<string, Tally>();
  private overflow: Tally | undefined;

  constructor(private readonly maxPeers = MAX_SUMMARY_PEERS) {}

  /** Counts a refusal of `key` (the peer's address); true when it is the first of this interval and must be appended itself. */
  note(key: string, entry: NewEntry, time: string): boolean {
    const t = this.tallies.get(key);
    if (t) {
      t.count++;
      t.last = time;
      return false;
    }
    if (this.tallies.size >= this.maxPeers) {
      if (this.overflow) {
        this.overflow.count++;
        this.overflow.last = time;
      } else {
        const shared: NewEntry = { type: entry.type, ...(entry.outcome ? { outcome: entry.outcome } : {}), ...(entry.reason ? { reason: entry.reason } : {}) };
        this.overflow = { entry: shared, first: time, last: time, count: 1 };
      }
      return false;
    }
    // The summary keeps what all its refusals share (not one request's token hash or port).
    const shared: NewEntry = {
      type: entry.type,
      ...(entry.outcome ? { outcome: entry.outcome } : {}),
      ...(entry.reason ? { reason: entry.reason } : {}),
      ...(entry.api ? { api: entry.api } : {}),
      peer: key,
    };
    this.tallies.set(key, { entry: shared, first: time, last: time, count: 0 });
    return true;
  }

  /** The summary records of the interval that ended (peers with refusals beyond their first), and a fresh interval. */
  take(): NewEntry[] {
    const out: NewEntry[] = [];
    const add = (t: Tally) => {
      if (t.count > 0) out.push({ ...t.entry, event: 'refusal-summary', details: JSON.stringify({ count: t.count, first: t.first, last: t.last }) });
    };
    for (const t of this.tallies.values()) add(t);
    if (this.overflow) add(this.overflow);
    this.tallies.clear();
    this.overflow = undefined;
    return out;
  }
}

import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CastellanError } from '../../../workload-identity/index.js';
import {
  chainRecord,
  checkpointSignerFor,
  GENESIS_HASH,
  Ledger,
  ledgerHeadPath,
  makeCheckpoint,
  openLedger,
  openLedgerStore,
  readLedgerHead,
  recordHash,
  verifyLedger,
  type LedgerRecord,
  type LedgerStore,
  type LedgerStoreLocation,
} from '../../../ca/index.js';
import { recordFromRow } from '../../../ca/ledger/ledger-store.js';
import { rawLedgerSql, type RawLedgerSql } from '../../helpers/ledger-sql.js';
import { freshPgDatabase, pgSkipReason, pgTestUrl } from '../../helpers/postgres.js';
import { testCa } from '../../helpers/test-ca.js';

if (!pgTestUrl) console.log(pgSkipReason);

interface Backend {
  name: string;
  skip: boolean;
  open(dir: string): Promise<{ location: LedgerStoreLocation; raw: RawLedgerSql; cleanup: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    open: async (dir) => ({ location: { dir }, raw: rawLedgerSql({ file: path.join(dir, 'ledger.db') }), cleanup: async () => {} }),
  },
  {
    name: 'sqlite (synchronous=normal: inline writer)',
    skip: false,
    open: async (dir) => ({ location: { dir, synchronous: 'normal' }, raw: rawLedgerSql({ file: path.join(dir, 'ledger.db') }), cleanup: async () => {} }),
  },
  {
    name: 'postgres',
    skip: !pgTestUrl,
    open: async (dir) => {
      const db = await freshPgDatabase();
      return { location: { dir, databaseUrl: db.url }, raw: rawLedgerSql({ url: db.url }), cleanup: db.drop };
    },
  },
];

const T0 = Date.now();

describe.each(backends)('$name ledger', (backend) => {
  // PostgreSQL cases are skipped (reason printed above) without CASTELLAN_TEST_DATABASE_URL.
  const tested = it.skipIf(backend.skip);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /**
   * A CA and a ledger of 10 entries with a checkpoint every 4 records, closed (final checkpoint):
   * 1-4 entries, 5 checkpoint, 6-9 entries, 10 checkpoint, 11-12 entries, 13 checkpoint.
   */
  async function fixture() {
    const t = await testCa();
    cleanups.push(t.cleanup);
    const b = await backend.open(t.ca.dir);
    cleanups.push(b.cleanup);
    let clock = T0;
    const ledger = await openLedger({ ...b.location, dir: t.ca.dir, authority: () => t.ca.active, checkpointEvery: 4, checkpointIntervalMs: 0, now: () => new Date((clock += 1000)) });
    for (let i = 0; i < 10; i++) {
      await ledger.append({ type: 'issuance', outcome: 'issued', api: 'istio', spiffeId: `spiffe://cluster.local/ns/default/sa/sa-${i}`, namespace: 'default', serial: `0a${i}` });
    }
    await ledger.close();
    const store = await openLedgerStore({ ...b.location, readOnly: true });
    cleanups.push(() => store.close());
    const roots = t.ca.bundle.map((c) => new X509Certificate(c.der));
    const verify = async (o: { witness?: boolean } = {}) => {
      const head = o.witness === false ? undefined : await readLedgerHead(ledgerHeadPath(t.ca.dir));
      return verifyLedger(store, { roots, ...(head ? { head } : {}) });
    };
    return { ...t, ...b, store, verify };
  }

  tested('ok/an untouched ledger verifies: records, checkpoints every N, a final checkpoint and the head witness', async () => {
    const f = await fixture();
    const r = await f.verify();
    expect(r).toMatchObject({ ok: true, records: 13, checkpoints: 3, lastSeq: 13, lastCheckpointSeq: 13, unprotected: 0, headSeq: 13 });
    const all = await f.store.scan(0, 100);
    expect(all.map((x) => x.type)).toEqual(['issuance', 'issuance', 'issuance', 'issuance', 'checkpoint', 'issuance', 'issuance', 'issuance', 'issuance', 'checkpoint', 'issuance', 'issuance', 'checkpoint']);
    expect(all[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
    const cp = JSON.parse(all[4]!.details!) as { from: number; to: number; keyId: string };
    expect(cp).toMatchObject({ from: 1, to: 4, keyId: f.ca.active.issuer.ski.toString('hex') });
  });

  tested('fail/an edited field is named: edited at that record', async () => {
    const f = await fixture();
    await f.raw.run("UPDATE {T} SET spiffe_id = 'spiffe://cluster.local/ns/evil/sa/x' WHERE seq = 3");
    expect((await f.verify()).problem).toMatchObject({ seq: 3, kind: 'edited' });
  });

  tested('fail/a deleted row is named: deleted (gap) at its sequence number', async () => {
    const f = await fixture();
    await f.raw.run('DELETE FROM {T} WHERE seq = 7');
    expect((await f.verify()).problem).toMatchObject({ seq: 7, kind: 'deleted' });
  });

  tested('fail/two swapped rows are named: reordered at the first', async () => {
    const f = await fixture();
    await f.raw.run('UPDATE {T} SET seq = -1 WHERE seq = 2');
    await f.raw.run('UPDATE {T} SET seq = 2 WHERE seq = 3');
    await f.raw.run('UPDATE {T} SET seq = 3 WHERE seq = -1');
    const p = (await f.verify()).problem;
    expect(p).toMatchObject({ seq: 2, kind: 'reordered' });
    expect(p!.message).toContain('written as 3');
  });

  tested('fail/truncation after a checkpoint is caught by the head witness (and only by it)', async () => {
    const f = await fixture();
    await f.raw.run('DELETE FROM {T} WHERE seq > 10');
    expect((await f.verify()).problem).toMatchObject({ seq: 11, kind: 'truncated' });
    // The documented limit: without the witness the shorter chain is self-consistent.
    expect(await f.verify({ witness: false })).toMatchObject({ ok: true, lastSeq: 10 });
  });

  tested('fail/an edit with the chain recomputed (no CA key) breaks the next checkpoint signature', async () => {
    const f = await fixture();
    const rows = (await f.raw.rows('SELECT * FROM {T} ORDER BY seq')).map(recordFromRow);
    const rewritten = rechain(rows, (r) => (r.seq === 3 ? { ...r, spiffeId: 'spiffe://cluster.local/ns/evil/sa/x' } : r), (r, prev) =>
      chainRecord(entryOf(r), prev, r.signature),
    );
    await replaceAll(f, rewritten);
    expect((await f.verify({ witness: false })).problem).toMatchObject({ seq: 5, kind: 'invalid-checkpoint' });
  });

  tested('fail/checkpoints re-signed by a key outside the CA are forged', async () => {
    const f = await fixture();
    const attacker = await testCa();
    cleanups.push(attacker.cleanup);
    const evil = checkpointSignerFor(attacker.ca.active);
    const rows = (await f.raw.rows('SELECT * FROM {T} ORDER BY seq')).map(recordFromRow);
    let lastCp = 0;
    const rewritten = rechain(rows, (r) => (r.seq === 3 ? { ...r, spiffeId: 'spiffe://cluster.local/ns/evil/sa/x' } : r), (r, prev) => {
      if (r.type !== 'checkpoint') return chainRecord(entryOf(r), prev);
      const cp = makeCheckpoint(prev, lastCp, evil, r.time);
      lastCp = cp.seq;
      return cp;
    });
    await replaceAll(f, rewritten);
    const p = (await f.verify({ witness: false })).problem;
    expect(p).toMatchObject({ seq: 5, kind: 'forged-checkpoint' });
    expect(p!.message).toContain('does not chain to a trusted root');
  });

  tested('ok/concurrent appends share one commit and get consecutive sequence numbers', async () => {
    const t = await testCa();
    cleanups.push(t.cleanup);
    const b = await backend.open(t.ca.dir);
    cleanups.push(b.cleanup);
    const store = await openLedgerStore(b.location);
    let commits = 0;
    const counting: LedgerStore = { ...store, appendBatch: (build) => (commits++, store.appendBatch(build)) };
    const ledger = new Ledger({ store: counting, signer: () => checkpointSignerFor(t.ca.active), checkpointIntervalMs: 0 });
    const records = await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.append({ type: 'refusal', outcome: 'refused', reason: `R${i}` })));
    expect(commits).toBe(1);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await ledger.close();
    expect(commits).toBe(2); // the final checkpoint
  });
});

describe('several writers on one SQLite file (ca serve and ca mint)', () => {
  it('ok/interleaved batches of two processes-worth of writers re-chain on conflict and keep one valid chain', async () => {
    const t = await testCa();
    try {
      const open = (synchronous: 'full' | 'normal') => openLedger({ dir: t.ca.dir, synchronous, authority: () => t.ca.active, checkpointEvery: 7, checkpointIntervalMs: 0 });
      const a = await open('full');
      const b = await open('normal');
      const all: Promise<LedgerRecord>[] = [];
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 5; i++) all.push(a.append({ type: 'lifecycle', event: `a-${round}-${i}` }), b.append({ type: 'lifecycle', event: `b-${round}-${i}` }));
        await new Promise((r) => setImmediate(r));
      }
      const recs = await Promise.all(all);
      expect(new Set(recs.map((r) => r.seq)).size).toBe(100);
      await a.close();
      await b.close();
      const store = await openLedgerStore({ dir: t.ca.dir, readOnly: true });
      try {
        const report = await verifyLedger(store, { roots: t.ca.bundle.map((c) => new X509Certificate(c.der)) });
        expect(report).toMatchObject({ ok: true, unprotected: 0 });
        expect(report.records - report.checkpoints).toBe(100);
      } finally {
        await store.close();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('ledger write failures', () => {
  it('fail/a store that cannot commit rejects every caller of the batch with ERR_LEDGER_UNAVAILABLE', async () => {
    const t = await testCa();
    try {
      const broken: LedgerStore = {
        kind: 'sqlite',
        location: '(test)',
        appendBatch: () => Promise.reject(new CastellanError('ERR_LEDGER_UNAVAILABLE', 'ledger: disk full')),
        scan: async () => [],
        query: async () => [],
        bySeq: async () => undefined,
        bySerial: async () => [],
        close: async () => {},
      };
      const ledger = new Ledger({ store: broken, signer: () => checkpointSignerFor(t.ca.active), checkpointIntervalMs: 0 });
      const results = await Promise.allSettled([ledger.append({ type: 'lifecycle', event: 'a' }), ledger.append({ type: 'lifecycle', event: 'b' })]);
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as CastellanError).code : 'ok'))).toEqual(['ERR_LEDGER_UNAVAILABLE', 'ERR_LEDGER_UNAVAILABLE']);
      await ledger.close();
    } finally {
      t.cleanup();
    }
  });

  it('ok/the canonical encoding covers the sequence number', () => {
    const r = chainRecord({ type: 'lifecycle', time: '2026-11-20T10:00:00.000Z', event: 'ca-init' }, { seq: 0, hash: GENESIS_HASH });
    expect(r.seq).toBe(1);
    expect(recordHash({ ...r, seq: 2 })).not.toBe(r.hash);
    expect(recordHash(r)).toBe(r.hash);
  });
});

function entryOf(r: LedgerRecord) {
  const { seq: _s, prevHash: _p, hash: _h, signature: _sig, ...entry } = r;
  return entry;
}

/** Applies `edit` and chains every record again with `link` (what an attacker with DB access can do). */
function rechain(rows: LedgerRecord[], edit: (r: LedgerRecord) => LedgerRecord, link: (r: LedgerRecord, prev: { seq: number; hash: string }) => LedgerRecord): LedgerRecord[] {
  const out: LedgerRecord[] = [];
  let prev = { seq: 0, hash: GENESIS_HASH };
  for (const r of rows) {
    const n = link(edit(r), prev);
    out.push(n);
    prev = n;
  }
  return out;
}

async function replaceAll(f: { raw: RawLedgerSql; location: LedgerStoreLocation }, records: LedgerRecord[]): Promise<void> {
  await f.raw.run('DELETE FROM {T}');
  const w = await openLedgerStore(f.location);
  try {
    await w.appendBatch(() => records);
  } finally {
    await w.close();
  }
}

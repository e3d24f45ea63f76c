import { createPublicKey, sign as cryptoSign, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CastellanError, TrustDomain } from '../../../workload-identity/index.js';
import {
  chainRecord,
  checkpointSignerFor,
  createIntermediateCertificate,
  generateKey,
  keyObjectSigner,
  readPrivateKeyFile,
  verifyCheckpoint,
  GENESIS_HASH,
  Ledger,
  ledgerHeadPath,
  makeCheckpoint,
  openLedger,
  openLedgerStore,
  openPostgresLedgerStore,
  readLedgerHead,
  recordHash,
  verifyLedger,
  type LedgerRecord,
  type LedgerStore,
  type LedgerStoreLocation,
} from '../../../ca/index.js';
import pg from 'pg';
import { recordFromRow } from '../../../ca/ledger/ledger-store.js';
import { rawLedgerSql, type RawLedgerSql } from '../../helpers/ledger-sql.js';
import { freshPgDatabase, pgSkipReason, pgTestUrl } from '../../helpers/postgres.js';
import { asyncCodeOf, failureOf } from '../../helpers/error-code.js';
import { memoryLog } from '../../helpers/ca-server.js';
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
    const b = await backend.open(t.ca.store.dir!);
    cleanups.push(b.cleanup);
    let clock = T0;
    const ledger = await openLedger({
      ...b.location,
      dir: t.ca.store.dir!,
      authority: () => t.ca.active,
      checkpointEvery: 4,
      checkpointIntervalMs: 0,
      now: () => new Date((clock += 1000)),
    });
    for (let i = 0; i < 10; i++) {
      await ledger.append({ type: 'issuance', outcome: 'issued', api: 'istio', spiffeId: `spiffe://cluster.local/ns/default/sa/sa-${i}`, namespace: 'default', serial: `0a${i}` });
    }
    await ledger.close();
    const store = await openLedgerStore({ ...b.location, readOnly: true });
    cleanups.push(() => store.close());
    const roots = t.ca.bundle.map((c) => new X509Certificate(c.der));
    const verify = async (o: { witness?: boolean } = {}) => {
      const head = o.witness === false ? undefined : await readLedgerHead(ledgerHeadPath(t.ca.store.dir!));
      return verifyLedger(store, { roots, ...(head ? { head } : {}) });
    };
    return { ...t, ...b, store, verify };
  }

  tested('ok/an untouched ledger verifies: records, checkpoints every N, a final checkpoint and the head witness', async () => {
    const f = await fixture();
    const r = await f.verify();
    expect(r).toMatchObject({ ok: true, records: 13, checkpoints: 3, lastSeq: 13, lastCheckpointSeq: 13, unprotected: 0, headSeq: 13 });
    const all = await f.store.scan(0, 100);
    expect(all.map((x) => x.type)).toEqual([
      'issuance',
      'issuance',
      'issuance',
      'issuance',
      'checkpoint',
      'issuance',
      'issuance',
      'issuance',
      'issuance',
      'checkpoint',
      'issuance',
      'issuance',
      'checkpoint',
    ]);
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
    const rewritten = rechain(
      rows,
      (r) => (r.seq === 3 ? { ...r, spiffeId: 'spiffe://cluster.local/ns/evil/sa/x' } : r),
      (r, prev) => chainRecord(entryOf(r), prev, r.signature),
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
    const rewritten = rechain(
      rows,
      (r) => (r.seq === 3 ? { ...r, spiffeId: 'spiffe://cluster.local/ns/evil/sa/x' } : r),
      (r, prev) => {
        if (r.type !== 'checkpoint') return chainRecord(entryOf(r), prev);
        const cp = makeCheckpoint(prev, lastCp, evil, r.time);
        lastCp = cp.seq;
        return cp;
      },
    );
    await replaceAll(f, rewritten);
    const p = (await f.verify({ witness: false })).problem;
    expect(p).toMatchObject({ seq: 5, kind: 'forged-checkpoint' });
    expect(p!.message).toContain('does not chain to a trusted root');
  });

  tested('fail/truncated under running writers (checkpoints included): appends fail ERR_LEDGER_BROKEN, nothing is chained, verify fails, reopening refuses', async () => {
    const f = await fixture(); // closed: 13 records, witness = checkpoint 13
    const open = () => openLedger({ ...f.location, dir: f.ca.store.dir!, authority: () => f.ca.active, checkpointEvery: 4, checkpointIntervalMs: 0 });
    const a = await open();
    expect((await a.append({ type: 'lifecycle', event: 'before' })).seq).toBe(14); // a's own anchor: record 14
    const b = await open(); // b has committed nothing: its anchor is the witness (checkpoint 13)
    await f.raw.run('DELETE FROM {T} WHERE seq > 3');
    expect(await failureOf(a.append({ type: 'lifecycle', event: 'after-a' }))).toMatchObject({
      code: 'ERR_LEDGER_BROKEN',
      message: expect.stringContaining('castellan audit verify'),
    });
    expect(await asyncCodeOf(a.append({ type: 'lifecycle', event: 'again' }))).toBe('ERR_LEDGER_BROKEN'); // it stays stopped
    expect(await asyncCodeOf(b.append({ type: 'lifecycle', event: 'after-b' }))).toBe('ERR_LEDGER_BROKEN');
    expect([a.stats.broken, b.stats.broken]).toEqual([true, true]);
    await a.close();
    await b.close();
    expect(await f.raw.rows('SELECT seq FROM {T}')).toHaveLength(3); // nothing was chained onto the shorter tail
    expect(await f.verify()).toMatchObject({ ok: false, problem: { kind: 'truncated' } });
    const reopened = await failureOf(open());
    expect(reopened?.code).toBe('ERR_LEDGER_BROKEN');
    expect(reopened?.message).toContain('castellan audit verify');
  });

  tested('fail/a record rewritten under a running writer (same length) is caught by its anchor', async () => {
    const f = await fixture();
    const a = await openLedger({ ...f.location, dir: f.ca.store.dir!, authority: () => f.ca.active, checkpointEvery: 100, checkpointIntervalMs: 0 });
    const r = await a.append({ type: 'lifecycle', event: 'mine' });
    await f.raw.run(`UPDATE {T} SET hash = '${'e'.repeat(64)}' WHERE seq = ${r.seq}`);
    expect(await asyncCodeOf(a.append({ type: 'lifecycle', event: 'next' }))).toBe('ERR_LEDGER_BROKEN');
    await a.close();
  });

  tested('fail/NUL or a lone surrogate in a field is refused alone (ERR_LEDGER_RECORD); the rest of the batch is written and verifies', async () => {
    const f = await fixture();
    const a = await openLedger({ ...f.location, dir: f.ca.store.dir!, authority: () => f.ca.active, checkpointEvery: 100, checkpointIntervalMs: 0 });
    const results = await Promise.allSettled([
      a.append({ type: 'refusal', outcome: 'refused', reason: 'ERR_X', peer: 'ok-1' }),
      a.append({ type: 'refusal', outcome: 'refused', reason: 'ERR_X', peer: 'nul\u0000' }),
      a.append({ type: 'refusal', outcome: 'refused', reason: 'ERR_X', podName: 'lone\ud800' }),
      a.append({ type: 'refusal', outcome: 'refused', reason: 'ERR_X', podName: 'pair \ud83d\ude00 ok' }),
    ]);
    expect(results.map((x) => (x.status === 'fulfilled' ? 'ok' : (x.reason as CastellanError).code))).toEqual(['ok', 'ERR_LEDGER_RECORD', 'ERR_LEDGER_RECORD', 'ok']);
    await a.close();
    expect(await f.verify()).toMatchObject({ ok: true, records: 16 });
  });

  tested('fail/the pending queue is capped: appends beyond it fail ERR_LEDGER_UNAVAILABLE at once', async () => {
    const t = await testCa();
    cleanups.push(t.cleanup);
    const b = await backend.open(t.ca.store.dir!);
    cleanups.push(b.cleanup);
    const store = await openLedgerStore(b.location);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: LedgerStore = { ...store, appendBatch: async (build, anchors) => (await gate, store.appendBatch(build, anchors)) };
    const ledger = new Ledger({ store: slow, signer: () => checkpointSignerFor(t.ca.active), checkpointIntervalMs: 0, maxBatch: 2, maxPending: 5 });
    const first = [ledger.append({ type: 'lifecycle', event: '0' }), ledger.append({ type: 'lifecycle', event: '1' })];
    await new Promise((r) => setImmediate(r)); // the first batch (2) is now committing, stuck at the gate
    const queued = Array.from({ length: 5 }, (_, i) => ledger.append({ type: 'lifecycle', event: `q${i}` }));
    expect(await asyncCodeOf(ledger.append({ type: 'lifecycle', event: 'over' }))).toBe('ERR_LEDGER_UNAVAILABLE');
    expect(ledger.stats.overflows).toBe(1);
    release();
    expect((await Promise.all([...first, ...queued])).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await ledger.close();
  });

  tested('fail/no checkpoint is signed by an intermediate outside its validity (skipped, counted, logged)', async () => {
    const t = await testCa();
    cleanups.push(t.cleanup);
    const b = await backend.open(t.ca.store.dir!);
    cleanups.push(b.cleanup);
    const { log, lines } = memoryLog();
    const notAfter = t.ca.active.issuer.notAfter.getTime();
    let clock = notAfter - 2000;
    const ledger = await openLedger({
      ...b.location,
      dir: t.ca.store.dir!,
      authority: () => t.ca.active,
      checkpointEvery: 2,
      checkpointIntervalMs: 0,
      now: () => new Date(clock),
      log,
    });
    await ledger.append({ type: 'lifecycle', event: 'valid-1' });
    await ledger.append({ type: 'lifecycle', event: 'valid-2' }); // checkpoint 3, inside the validity
    clock = notAfter + 1000; // the intermediate expired
    for (let i = 0; i < 3; i++) await ledger.append({ type: 'lifecycle', event: `late-${i}` });
    expect(await ledger.checkpoint()).toBeUndefined();
    await ledger.close();
    expect(ledger.stats.checkpointsSkipped).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.includes('checkpoint NOT signed'))).toBe(true);
    const store = await openLedgerStore({ ...b.location, readOnly: true });
    cleanups.push(() => store.close());
    const all = await store.scan(0, 100);
    expect(all.filter((r) => r.type === 'checkpoint').map((r) => r.seq)).toEqual([3]);
    const head = await readLedgerHead(ledgerHeadPath(t.ca.store.dir!));
    expect(await verifyLedger(store, { roots: t.ca.bundle.map((c) => new X509Certificate(c.der)), ...(head ? { head } : {}) })).toMatchObject({ ok: true, unprotected: 3 });
  });

  tested('fail/checkpoints re-signed by a sibling intermediate under the same root are forged when the signers are given', async () => {
    const f = await fixture();
    const rootKey = await readPrivateKeyFile(path.join(f.ca.store.dir!, 'authorities', '1', 'root-key.pem'));
    const root = f.ca.active.parents[f.ca.active.parents.length - 1]!;
    const sibKey = generateKey('ec-p256').privateKey;
    const sibDer = createIntermediateCertificate({
      trustDomain: TrustDomain.of('other-cluster.local'),
      generation: 1,
      spki: createPublicKey(sibKey).export({ type: 'spki', format: 'der' }),
      issuer: { subject: root.subject, ski: root.ski, notAfter: root.notAfter, signer: keyObjectSigner(rootKey) },
      now: new Date(T0 - 3_600_000),
      ttlMs: 30 * 86_400_000,
    });
    const sibling = { chainDer: [sibDer], keyId: 'sibling', hash: 'sha256' as const, sign: (d: Uint8Array) => cryptoSign('sha256', d, sibKey) };
    const rows = (await f.raw.rows('SELECT * FROM {T} ORDER BY seq')).map(recordFromRow);
    let lastCp = 0;
    const rewritten = rechain(
      rows,
      (r) => (r.seq === 3 ? { ...r, spiffeId: 'spiffe://cluster.local/ns/evil/sa/x' } : r),
      (r, prev) => {
        if (r.type !== 'checkpoint') return chainRecord(entryOf(r), prev);
        const cp = makeCheckpoint(prev, lastCp, sibling, r.time);
        lastCp = cp.seq;
        return cp;
      },
    );
    await replaceAll(f, rewritten);
    const roots = f.ca.bundle.map((c) => new X509Certificate(c.der));
    // The documented weakness of roots alone, and what `signers` (audit verify: authorities/*/ca-cert.pem) closes.
    expect(await verifyLedger(f.store, { roots })).toMatchObject({ ok: true });
    const signers = [new X509Certificate(f.ca.active.issuer.der)];
    const p = (await verifyLedger(f.store, { roots, signers })).problem;
    expect(p).toMatchObject({ seq: 5, kind: 'forged-checkpoint' });
    expect(p!.message).toContain("not one of this CA's signing certificates");
    // The untouched CA's own checkpoints pass with the same signers.
    const g = await fixture();
    expect(await verifyLedger(g.store, { roots: g.ca.bundle.map((c) => new X509Certificate(c.der)), signers: [new X509Certificate(g.ca.active.issuer.der)] })).toMatchObject({
      ok: true,
    });
  });

  tested('fail/a checkpoint whose signer key the crypto library cannot use is reported invalid, not thrown', async () => {
    const f = await fixture();
    const cp = (await f.store.bySeq(5))!;
    const odd = { ...cp, signature: Buffer.from('30060201010201', 'hex').toString('base64') }; // truncated DER signature
    expect(() =>
      verifyCheckpoint(
        odd,
        f.ca.bundle.map((c) => new X509Certificate(c.der)),
        0,
      ),
    ).not.toThrow();
    expect(
      verifyCheckpoint(
        odd,
        f.ca.bundle.map((c) => new X509Certificate(c.der)),
        0,
      ),
    ).toMatchObject({ kind: 'invalid-checkpoint' });
    expect(verifyCheckpoint({ ...cp, details: 'null' }, [], 0)).toMatchObject({ kind: 'invalid-checkpoint' });
  });

  tested('fail/an edit with only that record rehashed is named as the broken link after it', async () => {
    const f = await fixture();
    const r3 = (await f.store.bySeq(3))!;
    const edited = { ...r3, spiffeId: 'spiffe://cluster.local/ns/evil/sa/x' };
    await f.raw.run(`UPDATE {T} SET spiffe_id = 'spiffe://cluster.local/ns/evil/sa/x', hash = '${recordHash(edited)}' WHERE seq = 3`);
    const p = (await f.verify()).problem;
    expect(p).toMatchObject({ seq: 4, kind: 'edited' });
    expect(p!.message).toContain('the link between records 3 and 4 is broken: record 3 or 4 was edited');
  });

  tested('ok/concurrent appends share one commit and get consecutive sequence numbers', async () => {
    const t = await testCa();
    cleanups.push(t.cleanup);
    const b = await backend.open(t.ca.store.dir!);
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
      const open = (synchronous: 'full' | 'normal') => openLedger({ dir: t.ca.store.dir!, synchronous, authority: () => t.ca.active, checkpointEvery: 7, checkpointIntervalMs: 0 });
      const a = await open('full');
      const b = await open('normal');
      // Count the batches that found another writer's records on the tail they expected (the re-chain path).
      const conflicts = { n: 0 };
      const writerOf = (l: Ledger) => (l as unknown as { o: { store: LedgerStore } }).o.store;
      for (const l of [a, b]) {
        const s = writerOf(l);
        const orig = s.appendBatch.bind(s);
        let last: string | undefined; // hash of the newest record this writer chained
        s.appendBatch = (build, anchors) =>
          orig((tail) => {
            if (last !== undefined && tail.hash !== last) conflicts.n++;
            const out = build(tail);
            if (out.length > 0) last = out[out.length - 1]!.hash;
            return out;
          }, anchors);
      }
      const all: Promise<LedgerRecord>[] = [];
      for (let round = 0; round < 10; round++) {
        const batch: Promise<LedgerRecord>[] = [];
        for (let i = 0; i < 5; i++) batch.push(a.append({ type: 'lifecycle', event: `a-${round}-${i}` }), b.append({ type: 'lifecycle', event: `b-${round}-${i}` }));
        all.push(...batch);
        // Both writers commit in every round, so each starts the next round from a tail the other moved.
        await Promise.all(batch);
      }
      const recs = await Promise.all(all);
      expect(new Set(recs.map((r) => r.seq)).size).toBe(100);
      expect(conflicts.n).toBeGreaterThan(0);
      await a.close();
      await b.close();
      const store = await openLedgerStore({ dir: t.ca.store.dir!, readOnly: true });
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

  it('ok/close() commits what was appended before it, refuses appends after it, and the SQLite writer thread is not restarted', async () => {
    const t = await testCa();
    try {
      const store = await openLedgerStore({ dir: t.ca.store.dir! });
      const ledger = new Ledger({ store, signer: () => checkpointSignerFor(t.ca.active), checkpointIntervalMs: 0 });
      const before = Array.from({ length: 5 }, (_, i) => ledger.append({ type: 'lifecycle', event: `b${i}` }));
      const closing = ledger.close();
      const during = asyncCodeOf(ledger.append({ type: 'lifecycle', event: 'during-close' }));
      await closing;
      expect((await Promise.all(before)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await during).toBe('ERR_LEDGER_UNAVAILABLE');
      // The store is closed: a late batch fails instead of starting a new writer thread.
      expect(await asyncCodeOf(store.appendBatch(() => [chainRecord({ type: 'lifecycle', time: new Date().toISOString(), event: 'late' }, { seq: 6, hash: GENESIS_HASH })]))).toBe(
        'ERR_LEDGER_UNAVAILABLE',
      );
      const ro = await openLedgerStore({ dir: t.ca.store.dir!, readOnly: true });
      try {
        expect((await ro.scan(0, 100)).map((r) => r.event)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'checkpoint']);
      } finally {
        await ro.close();
      }
    } finally {
      t.cleanup();
    }
  });

  it('fail/a checkpoint that fails (timer or final) is logged and counted, not swallowed', async () => {
    const t = await testCa();
    try {
      const { log, lines } = memoryLog();
      let fail = false;
      const store = await openLedgerStore({ dir: t.ca.store.dir! });
      const flaky: LedgerStore = {
        ...store,
        appendBatch: (build, anchors) => (fail ? Promise.reject(new CastellanError('ERR_LEDGER_UNAVAILABLE', 'ledger: disk full')) : store.appendBatch(build, anchors)),
      };
      const ledger = new Ledger({ store: flaky, signer: () => checkpointSignerFor(t.ca.active), checkpointIntervalMs: 0, log });
      await ledger.append({ type: 'lifecycle', event: 'x' });
      fail = true;
      await ledger.close(); // the final checkpoint fails
      expect(ledger.stats.checkpointFailures).toBe(1);
      expect(lines.some((l) => l.includes('final checkpoint failed'))).toBe(true);
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

describe.skipIf(!pgTestUrl)('PostgreSQL writers and the server default isolation level', () => {
  it('fail/a batch waiting past lock_timeout for another writer fails ERR_LEDGER_UNAVAILABLE instead of hanging', async () => {
    const t = await testCa();
    const db = await freshPgDatabase();
    const holder = new pg.Client({ connectionString: db.url });
    try {
      const store = await openPostgresLedgerStore({ url: db.url, lockTimeoutMs: 100 });
      const ledger = new Ledger({ store, signer: () => checkpointSignerFor(t.ca.active), checkpointIntervalMs: 0 });
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', ['4846931446473246546']); // another replica's batch, stuck
      const f = await failureOf(ledger.append({ type: 'lifecycle', event: 'waits' }));
      expect(f?.code).toBe('ERR_LEDGER_UNAVAILABLE');
      expect(f?.message).toContain('lock timeout');
      await holder.query('ROLLBACK');
      expect((await ledger.append({ type: 'lifecycle', event: 'after' })).seq).toBe(1);
      await ledger.close();
    } finally {
      await holder.end().catch(() => {});
      await db.drop();
      t.cleanup();
    }
  });

  it('ok/with default_transaction_isolation = repeatable read, two writers still keep one chain (READ COMMITTED is explicit)', async () => {
    const t = await testCa();
    const db = await freshPgDatabase();
    try {
      const name = new URL(db.url).pathname.slice(1);
      await rawLedgerSql({ url: db.url }).run(`ALTER DATABASE ${name} SET default_transaction_isolation = 'repeatable read'`);
      expect(await rawLedgerSql({ url: db.url }).rows('SHOW default_transaction_isolation')).toEqual([{ default_transaction_isolation: 'repeatable read' }]);
      const open = () => openLedger({ dir: t.ca.store.dir!, databaseUrl: db.url, authority: () => t.ca.active, checkpointEvery: 1000, checkpointIntervalMs: 0 });
      const a = await open();
      const b = await open();
      const all: Promise<LedgerRecord>[] = [];
      for (let round = 0; round < 10; round++) {
        const batch: Promise<LedgerRecord>[] = [];
        for (let i = 0; i < 5; i++) batch.push(a.append({ type: 'lifecycle', event: `a-${round}-${i}` }), b.append({ type: 'lifecycle', event: `b-${round}-${i}` }));
        all.push(...batch);
        await Promise.all(batch);
      }
      const recs = await Promise.all(all);
      expect(new Set(recs.map((r) => r.seq)).size).toBe(100);
      await a.close();
      await b.close();
    } finally {
      await db.drop();
      t.cleanup();
    }
  });
});

import { statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordHash, type LedgerRecord } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { rawLedgerSql } from '../helpers/ledger-sql.js';
import { freshPgDatabase, pgSkipReason, pgTestUrl } from '../helpers/postgres.js';
import { tempDir } from '../helpers/test-ca.js';

if (!pgTestUrl) console.log(pgSkipReason);

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

/** `ca init` then three `ca mint` (one refused: TTL over the maximum) in t.dir/ca. */
async function caWithRecords(extra: string[] = []) {
  expect((await cli(['ca', 'init', '--dir', 'ca', ...extra], { cwd: t.dir })).code).toBe(0);
  const serials: string[] = [];
  for (const [i, sa] of ['cart', 'web'].entries()) {
    const r = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', `spiffe://cluster.local/ns/shop/sa/${sa}`, '--out', `out${i}`, ...extra], { cwd: t.dir });
    expect(r.code).toBe(0);
    serials.push(/serial\s+([0-9a-f]+)/.exec(r.out)![1]!);
  }
  const refused = await cli(['ca', 'mint', '--dir', 'ca', '--spiffe-id', ID, '--ttl', '30d', '--out', 'out9', ...extra], { cwd: t.dir });
  expect(refused.code).toBe(1);
  return serials;
}

type Json = Record<string, string | number | null>;

describe('castellan audit (SQLite in the CA directory)', () => {
  it('ok/ca init and ca mint record; list, show, export and verify read them', async () => {
    const serials = await caWithRecords();
    expect((statSync(path.join(t.dir, 'ca', 'ledger.db')).mode & 0o777).toString(8)).toBe('600');

    const list = await cli(['audit', 'list', '--dir', 'ca', '--output', 'json'], { cwd: t.dir });
    expect(list.code).toBe(0);
    const records = JSON.parse(list.out) as Json[];
    const kinds = records.map((r) => (r.type === 'lifecycle' ? r.event : r.type === 'checkpoint' ? 'checkpoint' : r.outcome)).reverse();
    expect(kinds).toEqual(['ca-init', 'checkpoint', 'issued', 'checkpoint', 'issued', 'checkpoint', 'refused', 'checkpoint']);
    expect(Object.keys(records[0]!)).toEqual([
      'seq',
      'time',
      'type',
      'outcome',
      'reason',
      'api',
      'spiffeId',
      'namespace',
      'serviceAccount',
      'podName',
      'podUid',
      'tokenSha256',
      'authenticator',
      'peer',
      'csrKeySha256',
      'serial',
      'notBefore',
      'notAfter',
      'issuerKeyId',
      'event',
      'details',
      'prevHash',
      'signature',
      'hash',
    ]);
    const refused = records.find((r) => r.outcome === 'refused')!;
    expect(refused).toMatchObject({ api: 'mint', authenticator: 'operator', reason: 'ERR_TTL_TOO_LONG', spiffeId: ID });
    expect(refused.csrKeySha256).toMatch(/^[0-9a-f]{64}$/);
    // A script can recompute a record's hash from the JSON fields.
    const r0 = records[0]!;
    const asRecord = Object.fromEntries(Object.entries(r0).filter(([, v]) => v !== null)) as unknown as LedgerRecord;
    expect(recordHash(asRecord)).toBe(r0.hash);

    const table = await cli(['audit', 'list', '--dir', 'ca', '--outcome', 'issued'], { cwd: t.dir });
    expect(table.out.split('\n')[0]).toMatch(/^SEQ\s+TIME\s+WHAT\s+SPIFFE ID\s+SERIAL$/);
    expect(table.out).toContain(serials[0]);
    expect(table.out).not.toContain('refused');

    const filtered = JSON.parse((await cli(['audit', 'list', '--dir', 'ca', '--spiffe-id', ID, '--output', 'json'], { cwd: t.dir })).out) as Json[];
    expect(filtered.map((r) => r.outcome)).toEqual(['refused', 'issued']);
    const since = JSON.parse((await cli(['audit', 'list', '--dir', 'ca', '--since', '1h', '--limit', '2', '--output', 'json'], { cwd: t.dir })).out) as Json[];
    expect(since).toHaveLength(2);
    const future = await cli(['audit', 'list', '--dir', 'ca', '--since', '2999-01-01T00:00:00Z'], { cwd: t.dir });
    expect(future.out).toBe('no records match\n');

    const show = await cli(['audit', 'show', '--dir', 'ca', serials[1]!.toUpperCase()], { cwd: t.dir });
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/spiffeId\s+spiffe:\/\/cluster.local\/ns\/shop\/sa\/web/);
    const bySeq = JSON.parse((await cli(['audit', 'show', '--dir', 'ca', '1', '--output', 'json'], { cwd: t.dir })).out) as Json;
    expect(bySeq).toMatchObject({ seq: 1, type: 'lifecycle', event: 'ca-init' });
    expect(JSON.parse(bySeq.details as string)).toMatchObject({ trustDomain: 'cluster.local', authority: 1, source: 'generated' });

    const exp = await cli(['audit', 'export', '--dir', 'ca'], { cwd: t.dir });
    const lines = exp.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Json);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const v = await cli(['audit', 'verify', '--dir', 'ca'], { cwd: t.dir });
    expect(v.code).toBe(0);
    expect(v.out).toContain('records      8 (last sequence number 8)');
    expect(v.out).toContain('OK: the ledger is intact');
  });

  it('fail/a tampered ledger: verify exits 1 naming the record', async () => {
    await caWithRecords();
    await rawLedgerSql({ file: path.join(t.dir, 'ca', 'ledger.db') }).run("UPDATE {T} SET spiffe_id = 'spiffe://cluster.local/ns/shop/sa/evil' WHERE seq = 3");
    const v = await cli(['audit', 'verify', '--dir', 'ca'], { cwd: t.dir });
    expect(v.code).toBe(1);
    expect(v.err).toContain('ledger BROKEN at record 3 (edited)');
    const j = await cli(['audit', 'verify', '--dir', 'ca', '--output', 'json'], { cwd: t.dir });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, problem: { seq: 3, kind: 'edited' } });
  });

  it('fail/truncation after a checkpoint: verify exits 1 (head witness)', async () => {
    await caWithRecords();
    await rawLedgerSql({ file: path.join(t.dir, 'ca', 'ledger.db') }).run('DELETE FROM {T} WHERE seq > 4');
    const v = await cli(['audit', 'verify', '--dir', 'ca'], { cwd: t.dir });
    expect(v.code).toBe(1);
    expect(v.err).toContain('at record 5 (truncated)');
  });

  const usage: [string, string[]][] = [
    ['no ledger named', ['audit', 'list']],
    ['--outcome other', ['audit', 'list', '--dir', 'ca', '--outcome', 'maybe']],
    ['--limit 0', ['audit', 'list', '--dir', 'ca', '--limit', '0']],
    ['--since yesterday', ['audit', 'list', '--dir', 'ca', '--since', 'yesterday']],
    ['--since a time of day without a zone', ['audit', 'list', '--dir', 'ca', '--since', '2026-05-01T12:00']],
    ['--output yaml', ['audit', 'list', '--dir', 'ca', '--output', 'yaml']],
    ['--serial not hex', ['audit', 'list', '--dir', 'ca', '--serial', 'xyz']],
    ['--format csv', ['audit', 'export', '--dir', 'ca', '--format', 'csv']],
    ['--database-url mysql', ['audit', 'list', '--database-url', 'mysql://x']],
    ['verify without roots', ['audit', 'verify', '--database-url', 'postgres://127.0.0.1:1/x']],
    ['unknown flag', ['audit', 'list', '--dir', 'ca', '--color']],
  ];
  for (const [name, argv] of usage) {
    it(`fail/usage: ${name} exits 2`, async () => {
      const r = await cli(argv, { cwd: t.dir });
      expect(r.code).toBe(2);
      expect(r.err).not.toBe('');
    });
  }

  it('fail/a directory without a ledger, an unknown record: exit 1', async () => {
    expect((await cli(['audit', 'list', '--dir', 'nowhere'], { cwd: t.dir })).code).toBe(1);
    await caWithRecords();
    const r = await cli(['audit', 'show', '--dir', 'ca', '999'], { cwd: t.dir });
    expect(r.code).toBe(1);
    expect(r.err).toContain('no record with sequence number 999');
  });

  it('ok/--help documents the JSON fields and exit codes', async () => {
    expect((await cli(['audit', 'list', '--help'])).out).toContain('csrKeySha256');
    expect((await cli(['audit', 'verify', '--help'])).out).toContain('0 intact, 1 broken');
  });

  it('ok/--help never prints CASTELLAN_DATABASE_URL (it may carry a password)', async () => {
    const env = { CASTELLAN_DATABASE_URL: 'postgres://castellan:S3cretPW@db.example/castellan' };
    for (const argv of [
      ['ca', 'serve', '--help'],
      ['ca', 'init', '--help'],
      ['ca', 'mint', '--help'],
      ['audit', 'list', '--help'],
      ['audit', 'verify', '--help'],
    ]) {
      const r = await cli(argv, { env });
      expect(r.out).toContain('--database-url');
      expect(r.out + r.err).not.toContain('S3cretPW');
    }
  });
});

describe.skipIf(!pgTestUrl)('castellan audit (PostgreSQL)', () => {
  it('ok/ca init and ca mint with --database-url record there; verify with --dir roots; tampering exits 1', async () => {
    const db = await freshPgDatabase();
    try {
      await caWithRecords(['--database-url', db.url]);
      const list = JSON.parse((await cli(['audit', 'list', '--database-url', db.url, '--output', 'json'], { cwd: t.dir })).out) as Json[];
      expect(list).toHaveLength(8);
      expect((await cli(['audit', 'verify', '--database-url', db.url, '--dir', 'ca'], { cwd: t.dir })).code).toBe(0);
      // --bundle alone would trust any CA under those roots to sign checkpoints: --signers is required.
      const noSigners = await cli(['audit', 'verify', '--database-url', db.url, '--bundle', 'ca/bundle.pem'], { cwd: t.dir });
      expect(noSigners.code).toBe(2);
      expect(noSigners.err).toContain('--signers');
      expect((await cli(['audit', 'verify', '--database-url', db.url, '--bundle', 'ca/bundle.pem', '--signers', 'ca/authorities/1/ca-cert.pem'], { cwd: t.dir })).code).toBe(0);
      await rawLedgerSql({ url: db.url }).run('DELETE FROM {T} WHERE seq = 3');
      const v = await cli(['audit', 'verify', '--database-url', db.url, '--dir', 'ca'], { cwd: t.dir });
      expect(v.code).toBe(1);
      expect(v.err).toContain('at record 3 (deleted)');
    } finally {
      await db.drop();
    }
  });
});

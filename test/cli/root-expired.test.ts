import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCa, startCaServer } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { memoryLog } from '../helpers/ca-server.js';
import { lifecycleEvents } from '../helpers/rotation.js';
import { failureOf } from '../helpers/error-code.js';
import { tempDir } from '../helpers/test-ca.js';

const DAY = 86_400_000;
const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  // A root of 30 days and an intermediate of 10: at day 15 only the intermediate has expired, at day 40 both.
  expect((await cli(['ca', 'init', '--dir', dir, '--root-ttl', '30d', '--intermediate-ttl', '10d'])).code).toBe(0);
});
afterEach(() => t.cleanup());

const at = (days: number) => new Date(Date.now() + days * DAY);

describe('a CA whose intermediate expired (it was not running when it was due)', () => {
  it('fail/root status exits 5 and names the command instead of "nothing to do"', async () => {
    const r = await cli(['root', 'status', '--dir', dir], { now: at(15) });
    expect(r.code).toBe(5);
    expect(r.out).not.toContain('nothing to do');
    expect(r.out).toMatch(/next: the active intermediate \(slot 1\) expired at .*'castellan root rotate-intermediate'/);
    expect(r.out).toMatch(/EXPIRED/);
    expect(r.err).toContain('castellan root rotate-intermediate');
    // JSON: the status, unchanged, and the exit code; nothing on stderr.
    const j = await cli(['root', 'status', '--dir', dir, '--output', 'json'], { now: at(15) });
    expect(j.code).toBe(5);
    expect(JSON.parse(j.out)).toMatchObject({ phase: 'idle', authorities: [{ id: 1, state: 'active' }] });
    expect(j.err).toBe('');
  });

  it('fail/ca mint and ca serve say which command makes a new intermediate', async () => {
    const mint = await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', ID, '--out', path.join(t.dir, 'leaf')], { now: at(15) });
    expect(mint.code).toBe(1);
    expect(mint.err).toMatch(/intermediate CA expired at .*'castellan root rotate-intermediate'/);
    const later = at(15);
    const serve = await failureOf(startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0' }, devIssuer: true, log: memoryLog().log, now: () => later }));
    expect(serve?.code).toBe('ERR_ISSUER_EXPIRED');
    expect(serve?.message).toContain("'castellan root rotate-intermediate'");
  });

  it('ok/root rotate-intermediate --dir makes a new intermediate under the same root, recorded in the ledger; mint works again', async () => {
    const before = await loadCa(dir);
    const r = await cli(['root', 'rotate-intermediate', '--dir', dir, '--ttl', '5d'], { now: at(15) });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/rotated the intermediate: authority 2 .* signs new leaves from now on/);
    const after = await loadCa(dir);
    expect(after.active.id).toBe(2);
    expect(after.active.root.der.equals(before.active.root.der)).toBe(true);
    expect(after.bundle.map((c) => c.serialHex)).toEqual(before.bundle.map((c) => c.serialHex));
    expect(after.active.issuer.notAfter.getTime()).toBeGreaterThan(at(15).getTime());
    expect(await lifecycleEvents(dir)).toEqual(['ca-init', 'intermediate-rotated']);
    expect((await cli(['root', 'status', '--dir', dir], { now: at(15) })).code).toBe(0);
    const mint = await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', ID, '--out', path.join(t.dir, 'leaf')], { now: at(15) });
    expect(mint.code, mint.err).toBe(0);
  });

  it('ok/root rotate-intermediate --output json prints the step, its message and the status after it', async () => {
    const r = await cli(['root', 'rotate-intermediate', '--dir', dir, '--output', 'json'], { now: at(15) });
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ step: 'rotate-intermediate', warnings: [], status: { bundleSequence: 2 } });
    expect(j.message).toContain('rotated the intermediate');
    expect(j.status.authorities.map((a: { id: number; state: string }) => [a.id, a.state])).toEqual([
      [1, 'retired'],
      [2, 'active'],
    ]);
  });
});

describe('a CA whose root expired', () => {
  it('fail/root status and check say exactly what to do: prepare, then activate --force', async () => {
    const st = await cli(['root', 'status', '--dir', dir], { now: at(40) });
    expect(st.code).toBe(5);
    expect(st.out).toMatch(/next: the active root \(slot 1\) expired at .*'castellan root prepare', then 'castellan root activate --force'/);
    const check = await cli(['check', '--dir', dir, '--output', 'json'], { now: at(40) });
    expect(check.code).toBe(5);
    const todos = (JSON.parse(check.out).findings as { todo: string }[]).map((f) => f.todo);
    expect(todos).toContain('castellan root prepare, then castellan root activate --force');
    expect(todos.join('\n')).not.toContain('rotate-intermediate');
  });

  it('fail/rotate-intermediate is refused (a new intermediate under an expired root cannot be valid), naming the root rotation', async () => {
    const r = await cli(['root', 'rotate-intermediate', '--dir', dir, '--output', 'json'], { now: at(40) });
    expect(r.code).toBe(1);
    const e = JSON.parse(r.err.trim());
    expect(e.error.code).toBe('ERR_ROTATION_STATE');
    expect(e.error.message).toContain("'castellan root prepare', then 'castellan root activate --force'");
    expect((await loadCa(dir)).authorities).toHaveLength(1);
  });

  it('ok/prepare (no cross-signature by the expired root) and activate --force bring the CA back', async () => {
    const prep = await cli(['root', 'prepare', '--dir', dir], { now: at(40) });
    expect(prep.code, prep.err).toBe(0);
    expect(prep.out).not.toContain('cross-signed');
    const act = await cli(['root', 'activate', '--dir', dir, '--force'], { now: at(40) });
    expect(act.code, act.err).toBe(0);
    expect((await cli(['root', 'status', '--dir', dir], { now: at(40) })).code).toBe(0);
    const mint = await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', ID, '--out', path.join(t.dir, 'leaf')], { now: at(40) });
    expect(mint.code, mint.err).toBe(0);
    expect((await loadCa(dir)).active.crossSigned).toBeUndefined();
  });
});

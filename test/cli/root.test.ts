import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCa } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { reportAgent } from '../helpers/rotation.js';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
});
afterEach(() => t.cleanup());

describe('castellan root', () => {
  it('ok/status shows slots, bundle sequence and agents; json is stable', async () => {
    const table = await cli(['root', 'status', '--dir', dir]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/bundle sequence 1; phase idle/);
    expect(table.out).toMatch(/^1\s+active\s+yes/m);
    expect(table.out).toContain('agents: unknown');
    await reportAgent(dir, 1);
    const json = JSON.parse((await cli(['root', 'status', '--dir', dir, '--output', 'json'])).out);
    expect(json).toMatchObject({ trustDomain: 'cluster.local', bundleSequence: 1, phase: 'idle', agents: { known: true, live: 1, current: 1, lagging: [] } });
    expect(json.authorities[0]).toMatchObject({ id: 1, state: 'active', inBundle: true });
  });

  it('ok/prepare -> activate -> retire, each gate refusing with exit 3 and saying why, --force overriding', async () => {
    expect((await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/cart', '--out', path.join(t.dir, 'leaf')])).code).toBe(0);
    const prep = await cli(['root', 'prepare', '--dir', dir]);
    expect(prep.code).toBe(0);
    expect(prep.out).toMatch(/prepared root 2: .*\n.*cross-signed by the active root/);
    expect((await loadCa(dir)).bundleSequence).toBe(2);

    await reportAgent(dir, 1);
    const refused = await cli(['root', 'activate', '--dir', dir]);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/refused: 1 live agent\(s\) do not serve bundle 2.*node-a/);
    expect((await cli(['check', '--dir', dir])).code).toBe(4); // lagging agent: warning

    await reportAgent(dir, 2);
    const act = await cli(['root', 'activate', '--dir', dir, '--reissue-rate', '10']);
    expect(act.code).toBe(0);
    expect(act.out).toContain('activated root 2');
    expect((await loadCa(dir)).reissueSpreadSeconds).toBe(1);

    // The minted leaf (24 h) is signed under the old root and recorded in the ledger.
    const stillAlive = await cli(['root', 'retire', '--dir', dir]);
    expect(stillAlive.code).toBe(3);
    expect(stillAlive.err).toMatch(/refused: 1 leaf certificate\(s\) signed under the old root .* still valid, the last until 20/);
    const forced = await cli(['root', 'retire', '--dir', dir, '--force']);
    expect(forced.code).toBe(0);
    const ca = await loadCa(dir);
    expect(ca.bundle.map((r) => r.serialHex)).toEqual([ca.active.root.serialHex]);

    const audit = await cli(['audit', 'list', '--dir', dir, '--output', 'json']);
    const events = (JSON.parse(audit.out) as { event?: string }[]).map((r) => r.event).filter(Boolean);
    expect(events).toEqual(expect.arrayContaining(['ca-init', 'root-prepared', 'root-activated', 'root-retired']));
    expect((await cli(['audit', 'verify', '--dir', dir])).code).toBe(0);
  });

  it('fail/wrong usage and wrong state: exit 2 and exit 1 with a message to act on', async () => {
    expect((await cli(['root', 'activate'])).code).toBe(2);
    expect((await cli(['root', 'activate', '--dir', dir, '--reissue-rate', '-1'])).code).toBe(2);
    const nothing = await cli(['root', 'activate', '--dir', dir]);
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain("no root is prepared; run 'castellan root prepare' first");
    const none = await cli(['root', 'retire', '--dir', dir]);
    expect(none.code).toBe(1);
    expect(none.err).toContain('nothing to retire');
    expect((await cli(['root', 'status', '--dir', path.join(t.dir, 'nope')])).code).toBe(1);
  });
});

describe('castellan check', () => {
  it('ok/healthy: exit 0', async () => {
    await reportAgent(dir, 1);
    const r = await cli(['check', '--dir', dir]);
    expect(r.out).toMatch(/^HEALTHY/);
    expect(r.code).toBe(0);
  });

  it('fail/warning (exit 4): no running CA reported agents; an intermediate expiring within --warn-within', async () => {
    const unknown = await cli(['check', '--dir', dir]);
    expect(unknown.code).toBe(4);
    expect(unknown.out).toContain('WARN agents unknown');
    await reportAgent(dir, 1);
    const soon = await cli(['check', '--dir', dir, '--warn-within', '400d', '--fail-within', '1d']);
    expect(soon.code).toBe(4);
    expect(soon.out).toMatch(/WARN the active intermediate expires at .*\n\s+do: /);
  });

  it('fail/failing (exit 5): the active intermediate within --fail-within, or expired', async () => {
    await reportAgent(dir, 1);
    const r = await cli(['check', '--dir', dir, '--fail-within', '400d']);
    expect(r.code).toBe(5);
    expect(r.out).toMatch(/^FAILING/);
    const later = await cli(['check', '--dir', dir, '--output', 'json'], { now: new Date(Date.now() + 400 * 86_400_000) });
    expect(later.code).toBe(5);
    expect(JSON.parse(later.out).findings.map((f: { what: string }) => f.what)).toEqual(expect.arrayContaining([expect.stringContaining('the active intermediate expired at')]));
  });

  it('fail/a rotation stuck in prepared beyond --stuck-after warns', async () => {
    expect((await cli(['root', 'prepare', '--dir', dir])).code).toBe(0);
    await reportAgent(dir, 2);
    expect((await cli(['check', '--dir', dir])).code).toBe(0);
    const stuck = await cli(['check', '--dir', dir, '--stuck-after', '1h'], { now: new Date(Date.now() + 2 * 3_600_000) });
    expect(stuck.code).toBe(4);
    expect(stuck.out).toContain('root rotation stuck: slot 2 prepared');
  });
});

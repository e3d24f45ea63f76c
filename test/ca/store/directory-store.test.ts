// The CA directory as every command sees it (SECURITY.md, "The CA directory"): its owner and mode are
// checked on every load, a replaced ledger is refused, an edited trust domain is refused.
import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initCa, loadCa, openLedger, rememberLedger } from '../../../ca/index.js';
import { TrustDomain } from '../../../workload-identity/index.js';
import { cli } from '../../helpers/cli.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const asRoot = process.getuid?.() === 0;

describe('the CA directory check runs on every load', () => {
  it('ok/a directory others can enter is tightened to 0700 by any command that loads it (not only ca init)', async () => {
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    chmodSync(dir, 0o777);
    await loadCa(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it.skipIf(!asRoot)('fail/a directory owned by another user is refused by ca serve, ca mint and root status', async () => {
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    chownSync(dir, 65534, 65534);
    await expect(loadCa(dir)).rejects.toMatchObject({ code: 'ERR_CA_DIR', context: { owner: 65534 } });
    await expect(testCaServer(dir, {}, true)).rejects.toMatchObject({ code: 'ERR_CA_DIR' });
    const mint = await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--out', path.join(t.dir, 'out')]);
    expect(mint.code).toBe(1);
    expect(mint.err).toContain('belongs to another user (uid 65534');
    expect((await cli(['root', 'status', '--dir', dir])).code).toBe(1);
  });

  it.skipIf(!asRoot)('fail/a file of the CA directory written by another user (a swapped ledger) is refused', async () => {
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    writeFileSync(path.join(dir, 'ledger.db'), '');
    chownSync(path.join(dir, 'ledger.db'), 65534, 65534);
    await expect(loadCa(dir)).rejects.toMatchObject({ code: 'ERR_CA_DIR', message: expect.stringContaining('ledger.db belongs to another user') });
  });
});

describe('a ledger that vanishes or is replaced is detected', () => {
  it('fail/the CA restarts on a fresh ledger after ledger.db and its witness were moved aside: refused; audit verify says BROKEN', async () => {
    const dir = path.join(t.dir, 'ca');
    expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
    // The state remembers the ledger's first record from the start.
    const genesis = JSON.parse(readFileSync(path.join(dir, 'ca.json'), 'utf8')).ledger?.genesis;
    expect(genesis).toMatch(/^[0-9a-f]{64}$/);
    const s1 = await testCaServer(dir, {}, true);
    await s1.server.shutdown(1000);
    // The attack: the ledger and its head witness moved aside; the CA would start a new, short history.
    mkdirSync(path.join(t.dir, 'aside'));
    renameSync(path.join(dir, 'ledger.db'), path.join(t.dir, 'aside', 'ledger.db'));
    renameSync(path.join(dir, 'ledger-head.json'), path.join(t.dir, 'aside', 'ledger-head.json'));
    await expect(testCaServer(dir, {}, true)).rejects.toMatchObject({ code: 'ERR_LEDGER_BROKEN', message: expect.stringContaining('moved aside, deleted or replaced') });
    const mint = await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', 'spiffe://cluster.local/ns/a/sa/b', '--out', path.join(t.dir, 'out')]);
    expect(mint.code).toBe(1);
    expect(mint.err).toContain('moved aside');
    // The refused starts wrote nothing: verify still sees the empty replacement, and calls it what it is.
    const v = await cli(['audit', 'verify', '--dir', dir]);
    expect(v.code).toBe(1);
    expect(v.err).toContain('not the ledger this CA wrote');
    // Put back, everything is as before.
    renameSync(path.join(t.dir, 'aside', 'ledger.db'), path.join(dir, 'ledger.db'));
    renameSync(path.join(t.dir, 'aside', 'ledger-head.json'), path.join(dir, 'ledger-head.json'));
    expect((await cli(['audit', 'verify', '--dir', dir])).code).toBe(0);
  });

  it('ok/a CA created before the state remembered its ledger adopts it on first open, then guards it', async () => {
    const dir = path.join(t.dir, 'ca');
    const ca = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const ledger = await openLedger({ dir, authority: () => ca.active });
    await ledger.appendLifecycle('ca-init', {});
    const genesis = await ledger.genesis();
    await ledger.close();
    expect((await loadCa(dir)).ledgerGenesis).toBeUndefined();
    await rememberLedger(dir, genesis!);
    expect((await loadCa(dir)).ledgerGenesis).toBe(genesis);
    const other = await openLedger({ dir, authority: () => ca.active, genesis: 'f'.repeat(64) }).catch((e: unknown) => e);
    expect(other).toMatchObject({ code: 'ERR_LEDGER_BROKEN' });
  });
});

describe("the state's trust domain is the certificates'", () => {
  it('fail/ca.json edited to another trust domain is refused by every load (no spiffe://evil.example leaves under a cluster.local intermediate)', async () => {
    const dir = path.join(t.dir, 'ca');
    await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
    const file = path.join(dir, 'ca.json');
    const state = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...state, trustDomain: 'evil.example' }), { mode: 0o600 });
    await expect(loadCa(dir)).rejects.toMatchObject({ code: 'ERR_CA_DIR', context: { certificate: 'cluster.local', state: 'evil.example' } });
    await expect(testCaServer(dir, {}, true)).rejects.toMatchObject({ code: 'ERR_CA_DIR' });
  });
});

describe('ca init refuses a directory that is not empty', () => {
  it('fail/a source folder is not a CA directory: nothing is written into it', async () => {
    const src = path.join(t.dir, 'ca');
    mkdirSync(src);
    writeFileSync(path.join(src, 'index.ts'), 'export {};\n');
    const r = await cli(['ca', 'init', '--dir', src]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('is not empty (index.ts)');
    expect(readFileSync(path.join(src, 'index.ts'), 'utf8')).toBe('export {};\n');
    expect(() => statSync(path.join(src, 'authorities'))).toThrow();
    expect(statSync(src).mode & 0o777).not.toBe(0o700);
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  activateRoot,
  AUTHORITY_FILES,
  authorityDir,
  flushPendingRecords,
  Issuer,
  loadCa,
  openLedger,
  openLedgerStore,
  prepareRoot,
  repairCaDir,
  retireRoot,
  withDirectoryLock,
  rotateIntermediate,
  verifyLedger,
  type AgentView,
  type CaDirectory,
  type Ledger,
} from '../../ca/index.js';
import { SpiffeId } from '../../workload-identity/index.js';
import { failureOf } from '../helpers/error-code.js';
import { testCsr } from '../helpers/csr.js';
import { opensslVerify, testCa } from '../helpers/test-ca.js';
import { lifecycleEvents } from '../helpers/rotation.js';
import { X509Certificate } from 'node:crypto';

let t: Awaited<ReturnType<typeof testCa>>;
let dir: string;
let ledger: Ledger;
let authority: CaDirectory;

beforeEach(async () => {
  t = await testCa();
  dir = t.ca.store.dir!;
  authority = t.ca;
  ledger = await openLedger({ dir, authority: () => authority.active });
});
afterEach(async () => {
  await ledger.close();
  t.cleanup();
});

const agentsServing = (sequence: number, extra: Partial<AgentView> = {}): AgentView => ({
  known: true,
  live: [{ agentId: 'node-a', identity: 'spiffe://cluster.local/ns/castellan-system/sa/agent', sequence, lastSeen: new Date().toISOString(), connected: true }],
  ...extra,
});

async function leafUnder(ca: CaDirectory) {
  const issuer = new Issuer({ authority: ca.active });
  const id = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart');
  return issuer.issue(id, (await testCsr({ uris: [id.toString()] })).der);
}

describe('root rotation: prepare -> activate -> retire', () => {
  it('ok/prepare adds a new root to the bundle with an intermediate under it and one cross-signed by the active root', async () => {
    const r = await prepareRoot({ store: dir, ledger });
    authority = r.ca;
    const p = r.ca.prepared!;
    expect(p.state).toBe('prepared');
    expect(r.ca.active.id).toBe(1);
    expect(r.ca.bundle.map((c) => c.serialHex)).toEqual([t.ca.active.root.serialHex, p.root.serialHex]);
    expect(r.ca.bundleSequence).toBe(2);
    expect(p.record.bundleSequenceAdded).toBe(2);
    expect(readFileSync(path.join(dir, 'bundle.pem'), 'utf8')).toBe(r.ca.bundle.map((c) => c.pem).join(''));
    // openssl: the new intermediate chains to the new root; its cross-signed twin (same subject and key) to the old one.
    expect(opensslVerify(t.dir, p.issuer.pem, [p.root.pem]).status).toBe(0);
    expect(p.crossSigned).toBeDefined();
    expect(opensslVerify(t.dir, p.crossSigned!.pem, [t.ca.active.root.pem]).status).toBe(0);
    expect(opensslVerify(t.dir, p.crossSigned!.pem, [p.root.pem]).status).not.toBe(0);
    expect(new X509Certificate(p.crossSigned!.der).subject).toBe(new X509Certificate(p.issuer.der).subject);
    expect(p.crossSigned!.spki.equals(p.issuer.spki)).toBe(true);
    expect(await lifecycleEvents(dir)).toEqual(['root-prepared']);
    expect(r.ca.pendingRecords).toEqual([]);
  });

  it('fail/a second prepare is refused while a root is prepared', async () => {
    await prepareRoot({ store: dir, ledger });
    expect(await failureOf(prepareRoot({ store: dir, ledger }))).toMatchObject({ code: 'ERR_ROTATION_STATE', message: expect.stringContaining('already prepared') });
  });

  it('fail/a root lifetime past the year 9999 is refused (it used to wrap into a root that expired long ago); nothing is prepared', async () => {
    const before = await loadCa(dir);
    for (const rootTtlMs of [3e14, 1e16]) {
      expect(await failureOf(prepareRoot({ store: dir, ledger }, { rootTtlMs }))).toMatchObject({ code: 'ERR_TTL_INVALID', message: expect.stringContaining('9999-12-31') });
    }
    const after = await loadCa(dir);
    expect(after.prepared).toBeUndefined();
    expect(after.authorities.map((a) => a.id)).toEqual(before.authorities.map((a) => a.id));
  });

  it('fail/activate is refused while an agent lags or nobody reported agents; --force overrides', async () => {
    const prepared = (await prepareRoot({ store: dir, ledger })).ca;
    const lagging = await failureOf(activateRoot({ store: dir, ledger }, { agents: agentsServing(1), reissueSpreadSeconds: 10 }));
    expect(lagging).toMatchObject({ code: 'ERR_ROTATION_GATE', message: expect.stringMatching(/1 live agent\(s\) do not serve bundle 2.*node-a.*serves 1/) });
    const unknown = await failureOf(activateRoot({ store: dir, ledger }, { agents: { known: false, why: 'no CA has reported its agents', live: [] }, reissueSpreadSeconds: 10 }));
    expect(unknown).toMatchObject({ code: 'ERR_ROTATION_GATE', message: expect.stringContaining('no CA has reported its agents') });
    expect((await loadCa(dir)).active.id).toBe(prepared.active.id);
    const forced = await activateRoot({ store: dir, ledger }, { agents: agentsServing(1), reissueSpreadSeconds: 10, force: true });
    expect(forced.ca.active.id).toBe(prepared.prepared!.id);
  });

  it('ok/activate switches issuance once every live agent serves the new root; the old root stays until retire', async () => {
    const prepared = (await prepareRoot({ store: dir, ledger })).ca;
    const r = await activateRoot({ store: dir, ledger }, { agents: agentsServing(2), reissueSpreadSeconds: 7 });
    authority = r.ca;
    expect(r.ca.active.id).toBe(prepared.prepared!.id);
    expect(r.ca.prepared).toBeUndefined();
    expect(r.ca.authorities.find((a) => a.id === 1)).toMatchObject({ state: 'retired', record: { inBundle: true } });
    expect(r.ca.bundle).toHaveLength(2);
    expect(r.ca.bundleSequence).toBe(3);
    expect(r.ca.reissueSpreadSeconds).toBe(7);
    const leaf = await leafUnder(r.ca);
    expect(opensslVerify(t.dir, leaf.leafPem, leaf.chainPem).status).toBe(0);
    expect(leaf.chainPem.at(-1)).toBe(prepared.prepared!.root.pem);
    expect(await lifecycleEvents(dir)).toEqual(['root-prepared', 'root-activated']);
  });

  it('fail/retire is refused while leaves of the old root are valid or when the ledger cannot tell; ok once they expired', async () => {
    await prepareRoot({ store: dir, ledger });
    await activateRoot({ store: dir, ledger }, { agents: agentsServing(2), reissueSpreadSeconds: 5 });
    const oldKey = t.ca.active.issuer.ski.toString('hex');
    let asked: string[] = [];
    const alive = await failureOf(
      retireRoot(
        { store: dir, ledger },
        {
          liveLeaves: async (ids) => {
            asked = ids;
            return { count: 3, lastNotAfter: '2099-01-01T00:00:00.000Z' };
          },
        },
      ),
    );
    expect(asked).toEqual([oldKey]);
    expect(alive).toMatchObject({ code: 'ERR_ROTATION_GATE', message: expect.stringContaining('3 leaf certificate(s) signed under the old root') });
    expect(alive!.message).toContain('2099-01-01T00:00:00.000Z');
    expect(await failureOf(retireRoot({ store: dir, ledger }, { liveLeaves: async () => undefined }))).toMatchObject({
      code: 'ERR_ROTATION_GATE',
      message: expect.stringContaining('ledger'),
    });
    const r = await retireRoot({ store: dir, ledger }, { liveLeaves: async () => ({ count: 0 }) });
    authority = r.ca;
    expect(r.ca.bundle.map((c) => c.serialHex)).toEqual([r.ca.active.root.serialHex]);
    expect(r.ca.reissueSpreadSeconds).toBe(0);
    expect(r.ca.bundleSequence).toBe(4);
    expect(readFileSync(path.join(dir, 'bundle.pem'), 'utf8')).toBe(r.ca.active.root.pem);
    expect(await failureOf(retireRoot({ store: dir, ledger }, { liveLeaves: async () => ({ count: 0 }) }))).toMatchObject({ code: 'ERR_ROTATION_STATE' });
    expect(await lifecycleEvents(dir)).toEqual(['root-prepared', 'root-activated', 'root-retired']);
    // The ledger's checkpoints were signed by the intermediate active at the time: the chain verifies.
    await ledger.checkpoint();
    const store = await openLedgerStore({ dir, readOnly: true });
    try {
      const roots = (await loadCa(dir)).authorities.map((a) => new X509Certificate(a.root.der));
      const signers = (await loadCa(dir)).authorities.map((a) => new X509Certificate(a.issuer.der));
      expect((await verifyLedger(store, { roots, signers })).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('ok/retire --force drops the old root despite live leaves and records that it was forced', async () => {
    await prepareRoot({ store: dir, ledger });
    await activateRoot({ store: dir, ledger }, { agents: agentsServing(2), reissueSpreadSeconds: 5 });
    const r = await retireRoot({ store: dir, ledger }, { liveLeaves: async () => ({ count: 2, lastNotAfter: '2099-01-01T00:00:00.000Z' }), force: true });
    expect(r.records[0]).toMatchObject({ event: 'root-retired', details: { forced: true, liveLeaves: 2 } });
    expect(r.ca.bundle).toHaveLength(1);
  });
});

describe('intermediate rotation', () => {
  it('ok/a new intermediate under the same root takes over; the old one stays valid and the roots do not change', async () => {
    const before = await leafUnder(t.ca);
    const r = await rotateIntermediate({ store: dir, ledger }, { reason: 'test' });
    authority = r.ca;
    expect(r.ca.active.id).toBe(2);
    expect(r.ca.active.record.rootOf).toBe(1);
    expect(r.ca.active.root.der.equals(t.ca.active.root.der)).toBe(true);
    expect(r.ca.bundle).toHaveLength(1);
    expect(r.ca.bundleSequence).toBe(2);
    expect(r.ca.active.issuer.serialHex).not.toBe(t.ca.active.issuer.serialHex);
    const after = await leafUnder(r.ca);
    expect(opensslVerify(t.dir, after.leafPem, after.chainPem).status).toBe(0);
    expect(opensslVerify(t.dir, before.leafPem, before.chainPem).status).toBe(0);
    // A second rotation works from the rotated slot (its root key lives in slot 1).
    const again = await rotateIntermediate({ store: dir, ledger }, { reason: 'test', expectIssuerSerial: r.ca.active.issuer.serialHex });
    expect(again.ca.active.record.rootOf).toBe(1);
    // A replica that decided on the old intermediate finds the work done.
    const late = await failureOf(rotateIntermediate({ store: dir, ledger }, { reason: 'test', expectIssuerSerial: r.ca.active.issuer.serialHex }));
    expect(late).toMatchObject({ code: 'ERR_ROTATION_STATE', message: expect.stringContaining('already done') });
  });
});

describe('crash safety', () => {
  it('ok/an authority folder of a transition that died before its commit is removed and its id reused', async () => {
    mkdirSync(authorityDir(dir, 2), { recursive: true });
    writeFileSync(path.join(authorityDir(dir, 2), AUTHORITY_FILES.caCert), 'half-written');
    mkdirSync(`${authorityDir(dir, 3)}.partial`, { recursive: true });
    const r = await prepareRoot({ store: dir, ledger });
    expect(r.ca.prepared!.id).toBe(2);
    expect(existsSync(`${authorityDir(dir, 3)}.partial`)).toBe(false);
  });

  it('ok/records committed with the state but not in the ledger (ledger down) stay pending and are written later, once', async () => {
    const down = { appendLifecycle: async () => Promise.reject(new Error('database is down')) };
    const r = await prepareRoot({ store: dir, ledger: down });
    expect(r.ledgerError?.message).toContain('database is down');
    expect((await loadCa(dir)).pendingRecords.map((p) => p.event)).toEqual(['root-prepared']);
    expect(await flushPendingRecords(dir, ledger)).toBe(1);
    expect(await flushPendingRecords(dir, ledger)).toBe(0);
    expect(await lifecycleEvents(dir)).toEqual(['root-prepared']);
    expect((await loadCa(dir)).pendingRecords).toEqual([]);
  });

  it('ok/repair keeps what it did not write and finishes a committed folder rename that did not reach the disk', async () => {
    const r = await prepareRoot({ store: dir, ledger });
    const id = r.ca.prepared!.id;
    mkdirSync(path.join(dir, 'authorities', '1.bak'));
    // As after a power loss: ca.json names slot 2, the disk still has 2.partial.
    renameSync(authorityDir(dir, id), `${authorityDir(dir, id)}.partial`);
    await repairCaDir(dir);
    expect(existsSync(path.join(dir, 'authorities', '1.bak'))).toBe(true);
    expect((await loadCa(dir)).prepared!.issuer.serialHex).toBe(r.ca.prepared!.issuer.serialHex);
  });

  it('ok/a lock left by a dead process is taken over by exactly one of many waiters', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(path.join(dir, 'ca.lock'), `${dead.stdout}@${hostname()} 0000`);
    let holders = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withDirectoryLock(dir, async () => {
          most = Math.max(most, ++holders);
          await new Promise((r) => setTimeout(r, 2));
          holders--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(existsSync(path.join(dir, 'ca.lock'))).toBe(false);
  });

  it('ok/concurrent transitions are serialized by the directory lock: exactly one prepare wins', async () => {
    const results = await Promise.allSettled([prepareRoot({ store: dir, ledger }), prepareRoot({ store: dir, ledger })]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toMatchObject({ code: 'ERR_ROTATION_STATE' });
    expect((await loadCa(dir)).authorities).toHaveLength(2);
  });
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initCa, loadCa } from '../../../ca/index.js';
import { TrustDomain } from '../../../workload-identity/index.js';
import { cli } from '../../helpers/cli.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';
import { lifecycleEvents } from '../../helpers/rotation.js';
import { until } from '../../helpers/until.js';

const ENTRY = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'helpers', 'ca-process.ts');
const DAY = 86_400_000;

let t: ReturnType<typeof tempDir>;
afterEach(() => t.cleanup());

describe('CA killed (SIGKILL) in the middle of its automatic intermediate rotation, then restarted', () => {
  for (const point of ['before-commit', 'after-commit', 'after-ledger'] as const) {
    it(`ok/killed ${point}: the restarted CA serves a consistent directory, finishes the rotation once, and the ledger verifies`, async () => {
      t = tempDir();
      const dir = path.join(t.dir, 'ca');
      const before = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local'), intermediateTtlMs: 2 * DAY, now: new Date(Date.now() - 1.5 * DAY) });
      const config = { listen: '127.0.0.1:0', http: '127.0.0.1:0', rotation: { reloadInterval: 100, intermediateRotateAt: 0.5 } };
      // The CA process rotates at its first directory check and kills itself at the failpoint.
      const killed = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify({ dir, config })], {
        encoding: 'utf8',
        env: { ...process.env, CASTELLAN_FAILPOINT: point },
        timeout: 60_000,
      });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const mid = await loadCa(dir);
      expect(mid.active.issuer.serialHex === before.active.issuer.serialHex).toBe(point === 'before-commit');

      // Restart: the CA writes what was left pending, and rotates if the crash came before the commit.
      const ca = await testCaServer(dir, { rotation: { reloadInterval: 100, intermediateRotateAt: 0.5 } }, true);
      try {
        await until(
          async () => (await loadCa(dir)).pendingRecords.length === 0 && ca.server.activeAuthority.issuer.serialHex !== before.active.issuer.serialHex,
          'the restarted CA to finish the rotation',
        );
        const after = await loadCa(dir);
        expect(after.pendingRecords).toEqual([]);
        expect(after.authorities).toHaveLength(2);
        expect(ca.server.activeAuthority.issuer.serialHex).toBe(after.active.issuer.serialHex);
        expect(after.active.issuer.serialHex).not.toBe(before.active.issuer.serialHex);
      } finally {
        await ca.server.shutdown(100);
      }
      const rotated = (await lifecycleEvents(dir)).filter((e) => e === 'intermediate-rotated');
      expect(rotated).toHaveLength(point === 'after-ledger' ? 2 : 1);
      const verify = await cli(['audit', 'verify', '--dir', dir]);
      expect(verify.code, verify.out + verify.err).toBe(0);
    }, 90_000);
  }
});

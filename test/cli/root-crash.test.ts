import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCa } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { lifecycleEvents, reportAgent } from '../helpers/rotation.js';
import { tempDir } from '../helpers/test-ca.js';

const ENTRY = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'helpers', 'cli-process.ts');

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
});
afterEach(() => t.cleanup());

/** `castellan <argv>` in its own process, SIGKILLed by itself at `failpoint`. */
function crashAt(failpoint: string, argv: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...argv], { encoding: 'utf8', env: { ...process.env, CASTELLAN_FAILPOINT: failpoint } });
}

/** Lifecycle events after the directory's creation (ca-init), oldest first. */
const eventsSinceInit = async (): Promise<string[]> => (await lifecycleEvents(dir)).filter((e) => e !== 'ca-init');

const STEPS: { name: string; argv: string[]; before: () => Promise<void>; event: string; done: (ca: Awaited<ReturnType<typeof loadCa>>) => boolean }[] = [
  { name: 'prepare', argv: ['root', 'prepare'], before: async () => {}, event: 'root-prepared', done: (ca) => ca.prepared !== undefined },
  {
    name: 'activate',
    argv: ['root', 'activate'],
    before: async () => {
      expect((await cli(['root', 'prepare', '--dir', dir])).code).toBe(0);
      await reportAgent(dir, 2);
    },
    event: 'root-activated',
    done: (ca) => ca.active.id === 2,
  },
  {
    name: 'retire',
    argv: ['root', 'retire'],
    before: async () => {
      expect((await cli(['root', 'prepare', '--dir', dir])).code).toBe(0);
      await reportAgent(dir, 2);
      expect((await cli(['root', 'activate', '--dir', dir])).code).toBe(0);
    },
    event: 'root-retired',
    done: (ca) => ca.bundle.length === 1,
  },
];

describe('crash (SIGKILL) in the middle of each rotation step, then the same command again', () => {
  for (const step of STEPS) {
    for (const point of ['before-commit', 'after-commit', 'after-ledger'] as const) {
      it(`ok/${step.name} killed ${point}: the directory stays consistent, the retry completes, each record is in the ledger and audit verify passes`, async () => {
        await step.before();
        const before = await eventsSinceInit();
        const killed = crashAt(point, [...step.argv, '--dir', dir]);
        expect(killed.signal, killed.stderr).toBe('SIGKILL');
        // Consistent: loads, and is either the old or the new state.
        const after = await loadCa(dir);
        expect(step.done(after)).toBe(point !== 'before-commit');
        if (point === 'before-commit') {
          // Nothing committed: the retry runs the step from scratch (left-over authority folders are removed).
          const again = await cli([...step.argv, '--dir', dir]);
          expect(again.code, again.err).toBe(0);
        } else {
          // Committed: the step is done; its record is still pending in ca.json (after-commit: not in the
          // ledger yet; after-ledger: in it, not yet cleared). The next root command (or the CA) writes it.
          expect(after.pendingRecords.map((r) => r.event)).toEqual([step.event]);
          const again = await cli([...step.argv, '--dir', dir]);
          expect(again.err).toContain('wrote 1 lifecycle record(s) a previous step left pending');
          // The step itself is already done: prepare finds a prepared root, activate none, retire nothing left.
          expect(again.code).toBe(1);
        }
        const ca = await loadCa(dir);
        expect(step.done(ca)).toBe(true);
        expect(readdirSync(path.join(dir, 'authorities')).sort()).toEqual(ca.authorities.map((a) => String(a.id)).sort());
        expect(ca.pendingRecords).toEqual([]);
        // Never lost, at least once: after-ledger repeats the record (same transition id) when flushed again.
        const events = (await eventsSinceInit()).slice(before.length);
        expect(events).toEqual(point === 'after-ledger' ? [step.event, step.event] : [step.event]);
        const verify = await cli(['audit', 'verify', '--dir', dir]);
        expect(verify.code, verify.out + verify.err).toBe(0);
      }, 60_000);
    }
  }
});

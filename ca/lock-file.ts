import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';

export interface LockOptions {
  /** A lock older than this is left over from a crashed process and is taken over. */
  readonly staleMs: number;
  /** How long to wait for another holder, ms. */
  readonly waitMs: number;
  /** The error to throw when the lock cannot be taken (`holder`: what the lock file says, if anything). */
  readonly fail: (reason: string, holder: string | undefined, cause?: unknown) => Error;
}

/**
 * Takes the lock file `lock` (created with O_EXCL, holding `pid@host`); resolves to its release. A lock
 * whose holder is a dead process of this host, or older than `staleMs`, is taken over.
 *
 * @example const release = await lockFile('/ca/ca.lock', { staleMs: 60_000, waitMs: 10_000, fail }); try { ... } finally { await release(); }
 */
export async function lockFile(lock: string, o: LockOptions): Promise<() => Promise<void>> {
  const me = `${process.pid}@${hostname()}`;
  const deadline = Date.now() + o.waitMs;
  for (;;) {
    try {
      const h = await fs.open(lock, 'wx', 0o600);
      try {
        await h.writeFile(me);
      } finally {
        await h.close();
      }
      return () => fs.rm(lock, { force: true });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw o.fail((cause as NodeJS.ErrnoException).code ?? 'error', undefined, cause);
      const holder = await fs.readFile(lock, 'utf8').catch(() => undefined);
      const st = await fs.stat(lock).catch(() => undefined);
      if (st && (Date.now() - st.mtimeMs > o.staleMs || holderIsDead(holder))) {
        await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw o.fail('held', holder);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function holderIsDead(holder: string | undefined): boolean {
  const m = /^(\d+)@(.+)$/.exec(holder ?? '');
  if (!m || m[2] !== hostname() || Number(m[1]) === process.pid) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

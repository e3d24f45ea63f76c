import { randomBytes } from 'node:crypto';
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
 * Takes the lock file `lock` (created with O_EXCL, holding `pid@host nonce`); resolves to its release,
 * which removes the file only if it is still this holder's. A lock whose holder is a dead process of
 * this host, or older than `staleMs`, is taken over, one taker at a time (under `<lock>.takeover`), and
 * only if it is still the lock that was judged stale.
 *
 * @example const release = await lockFile('/ca/ca.lock', { staleMs: 120_000, waitMs: 10_000, fail }); try { ... } finally { await release(); }
 */
export async function lockFile(lock: string, o: LockOptions): Promise<() => Promise<void>> {
  const me = `${process.pid}@${hostname()} ${randomBytes(8).toString('hex')}`;
  const deadline = Date.now() + o.waitMs;
  for (;;) {
    try {
      const h = await fs.open(lock, 'wx', 0o600);
      try {
        await h.writeFile(me);
      } finally {
        await h.close();
      }
      return async () => {
        const now = await fs.readFile(lock, 'utf8').catch(() => undefined);
        if (now === me) await fs.rm(lock, { force: true });
      };
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw o.fail((cause as NodeJS.ErrnoException).code ?? 'error', undefined, cause);
      const holder = await fs.readFile(lock, 'utf8').catch(() => undefined);
      const st = await fs.stat(lock).catch(() => undefined);
      if (st && holder !== undefined && (Date.now() - st.mtimeMs > o.staleMs || holderIsDead(holder))) {
        await takeOver(lock, holder);
        continue;
      }
      if (Date.now() >= deadline) throw o.fail('held', holder?.split(' ')[0]);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Removes the stale lock holding `stale`, unless another taker got there first (then nothing happens). */
async function takeOver(lock: string, stale: string): Promise<void> {
  const guard = `${lock}.takeover`;
  let h;
  try {
    h = await fs.open(guard, 'wx', 0o600);
  } catch {
    // Another process is taking over; a guard left by a crash in these few lines goes after 10 s.
    const st = await fs.stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 10_000) await fs.rm(guard, { force: true });
    return;
  }
  try {
    if ((await fs.readFile(lock, 'utf8').catch(() => undefined)) === stale) await fs.rm(lock, { force: true });
  } finally {
    await h.close();
    await fs.rm(guard, { force: true });
  }
}

function holderIsDead(holder: string): boolean {
  const m = /^(\d+)@(\S+)/.exec(holder);
  if (!m || m[2] !== hostname() || Number(m[1]) === process.pid) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

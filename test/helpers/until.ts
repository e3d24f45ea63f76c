/**
 * Polls `cond` (sync or async) until it holds; throws naming `what` after `limitMs`. For waits on
 * real sockets and processes; it bounds a broken run, it does not assert speed.
 */
export async function until(cond: () => boolean | Promise<boolean>, what = 'condition', limitMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

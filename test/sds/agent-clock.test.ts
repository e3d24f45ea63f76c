import { describe, expect, it } from 'vitest';
import { chainTimer, MAX_TIMER_MS, systemClock } from '../../sds/agent-clock.js';

describe('systemClock timers', () => {
  it('ok/a delay above 2^31-1 ms is waited in links no longer than that, then fires once', () => {
    const scheduled: { cb: () => void; ms: number }[] = [];
    const schedule = (cb: () => void, ms: number) => {
      scheduled.push({ cb, ms });
      return { unref() {} } as unknown as NodeJS.Timeout;
    };
    let fired = 0;
    const total = 3 * MAX_TIMER_MS + 5;
    chainTimer(() => fired++, total, schedule);
    for (let i = 0; i < 3; i++) {
      expect(scheduled.at(-1)!.ms).toBe(MAX_TIMER_MS);
      scheduled.at(-1)!.cb();
      expect(fired).toBe(0);
    }
    expect(scheduled.at(-1)!.ms).toBe(5);
    scheduled.at(-1)!.cb();
    expect(fired).toBe(1);
    expect(scheduled.map((s) => s.ms).reduce((a, b) => a + b)).toBe(total);
  });

  it('fail/a 30-day timer does not fire early (Node alone would fire it after 1 ms), and clearTimeout cancels it', async () => {
    let fired = false;
    const t = systemClock.setTimeout(() => (fired = true), 30 * 86_400_000);
    // Node turns an overflowing delay into 1 ms: by the time a 20 ms timer fires, it would have run.
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
    systemClock.clearTimeout(t);
  });
});

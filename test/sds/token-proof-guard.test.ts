import { describe, expect, it } from 'vitest';
import { TokenProofGuard } from '../../sds/token-proof-guard.js';
import { CastellanError } from '../../workload-identity/index.js';
import { asyncCodeOf } from '../helpers/error-code.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A check the test finishes by hand; `started` records the order checks got their turn. */
function checks() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const check = (name: string) => () => {
    started.push(name);
    return new Promise<string>((resolve) => finish.set(name, () => resolve(name)));
  };
  const done = async (name: string) => {
    finish.get(name)!();
    await new Promise((r) => setImmediate(r));
  };
  return { started, check, done };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('token checks shared fairly between connections', () => {
  it('ok/waiting checks get their turn round-robin across connections, not first come first served', async () => {
    const g = new TokenProofGuard(new ManualClock(), { inFlight: 1, perConnection: 2 });
    const c = checks();
    const results = [g.run('flood', c.check('f1')), g.run('flood', c.check('f2')), g.run('other', c.check('o1')), g.run('pod', c.check('p1'))];
    await tick();
    expect(c.started).toEqual(['f1']);
    await c.done('f1');
    await c.done('o1');
    // f2 arrived before p1, but 'flood' already had its turn.
    expect(c.started).toEqual(['f1', 'o1', 'p1']);
    await c.done('p1');
    await c.done('f2');
    expect(await Promise.all(results)).toEqual(['f1', 'f2', 'o1', 'p1']);
  });

  it('fail/a connection with perConnection checks under way is refused at once; other connections are not', async () => {
    const g = new TokenProofGuard(new ManualClock(), { inFlight: 1, perConnection: 2 });
    const c = checks();
    const held = [g.run('flood', c.check('f1')), g.run('flood', c.check('f2'))];
    const third = await g.run('flood', c.check('f3')).catch((e: CastellanError) => e);
    expect((third as CastellanError).code).toBe('ERR_NOT_READY');
    expect((third as Error).message).toMatch(/already has 2 token checks/);
    const pod = g.run('pod', c.check('p1'));
    await tick();
    expect(g.waiting).toBe(2);
    await c.done('f1');
    await c.done('p1');
    await c.done('f2');
    expect(await pod).toBe('p1');
    await Promise.all(held);
    // Once answered, the connection may present tokens again.
    const again = g.run('flood', c.check('f4'));
    await tick();
    await c.done('f4');
    expect(await again).toBe('f4');
  });

  it('fail/a check that waits waitMs without a turn is refused UNAVAILABLE; the turn goes to the next', async () => {
    const clock = new ManualClock();
    const g = new TokenProofGuard(clock, { inFlight: 1, waitMs: 5_000 });
    const c = checks();
    const running = g.run('a', c.check('a1'));
    const late = g.run('b', c.check('b1'));
    await tick();
    clock.advance(2_000);
    const next = g.run('c', c.check('c1'));
    clock.advance(3_000);
    expect(await asyncCodeOf(late)).toBe('ERR_NOT_READY');
    await c.done('a1');
    await c.done('c1');
    expect([await running, await next]).toEqual(['a1', 'c1']);
    expect(c.started).toEqual(['a1', 'c1']);
  });

  it('ok/checks start at most ratePerSecond a second after a burst; the rest wait for the budget to refill', async () => {
    const clock = new ManualClock();
    const g = new TokenProofGuard(clock, { inFlight: 10, perConnection: 10, ratePerSecond: 10, burst: 2 });
    const c = checks();
    const all = ['1', '2', '3', '4'].map((n) => g.run('x', c.check(n)));
    await tick();
    expect(c.started).toEqual(['1', '2']);
    clock.advance(100);
    await tick();
    expect(c.started).toEqual(['1', '2', '3']);
    clock.advance(100);
    await tick();
    expect(c.started).toEqual(['1', '2', '3', '4']);
    for (const n of ['1', '2', '3', '4']) await c.done(n);
    expect(await Promise.all(all)).toEqual(['1', '2', '3', '4']);
  });

  it('ok/a token the CA refused is refused again locally with the same code until the memory expires', () => {
    const clock = new ManualClock();
    const g = new TokenProofGuard(clock, { memoryMs: 1_000 });
    g.rememberRefused('abc', new CastellanError('ERR_TOKEN_REJECTED', 'ca said no'));
    expect(() => g.checkNotRefused('abc')).toThrow(/ca said no \(remembered/);
    clock.advance(1_000);
    expect(() => g.checkNotRefused('abc')).not.toThrow();
  });
});

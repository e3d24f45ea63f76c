import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../sds/agent.js';
import { RequestedTtl } from '../../sds/ttl-cap.js';
import { CastellanError } from '../../workload-identity/index.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await f.cleanup();
});

const DAY = 86_400_000;
type Entry = Record<string, unknown>;
const errorsLogged = () => f.log.lines.map((l) => JSON.parse(l) as Entry).filter((e) => (e['level'] as number) >= 50);
/** What is left of a certificate's lifetime now (notBefore is backdated for clock skew). */
const lifetimeOf = (svid: { notAfter: Date }) => svid.notAfter.getTime() - Date.now();

describe("a ttl above the CA's maximum", () => {
  it("fail/sidecar: the refusal is logged as a configuration error once, then the CA's maximum is requested", async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      tokenFile,
      ttlMs: 8 * DAY,
      clock: new ManualClock(),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    const w = await agent.provider.watch({});
    expect(lifetimeOf(w.current().svid)).toBeLessThanOrEqual(7 * DAY);
    expect(lifetimeOf(w.current().svid)).toBeGreaterThan(7 * DAY - 120_000);
    const errors = errorsLogged();
    expect(errors).toHaveLength(1);
    expect(errors[0]!['msg']).toMatch(/exceeds the CA's maximum/);
    expect(errors[0]!['caMaxTtlMs']).toBe(7 * DAY);
    w.close();
  });

  it("fail/node mode: the proof is retried with the CA's maximum and the stream is served", async () => {
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      mode: 'node',
      ttlMs: 8 * DAY,
      clock: new ManualClock(),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    const w = await agent.provider.watch({ token: await f.mint('shop', 'cart') });
    expect(lifetimeOf(w.current().svid)).toBeLessThanOrEqual(7 * DAY);
    expect(errorsLogged().map((e) => e['msg'])).toEqual([expect.stringMatching(/exceeds the CA's maximum/)]);
    w.close();
  });

  it('ok/node mode: what one refusal taught holds for every identity (a second pod asks for the maximum at once)', async () => {
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      mode: 'node',
      ttlMs: 8 * DAY,
      clock: new ManualClock(),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    const first = await agent.provider.watch({ token: await f.mint('shop', 'cart') });
    const second = await agent.provider.watch({ token: await f.mint('shop', 'checkout') });
    expect(second.current().svid.id.toString()).toBe('spiffe://cluster.local/ns/shop/sa/checkout');
    for (const w of [first, second]) expect(lifetimeOf(w.current().svid)).toBeLessThanOrEqual(7 * DAY);
    const refusals = parsePrometheusText(await agent.registry.metrics()).find('castellan_agent_rotation_failures_total', { reason: 'ERR_CA_REFUSED' });
    expect(refusals.map((s) => s.value)).toEqual([1]);
    expect(errorsLogged()).toHaveLength(1);
    first.close();
    second.close();
  });
});

describe('RequestedTtl', () => {
  const refusal = (maxSeconds: number) =>
    new CastellanError('ERR_CA_REFUSED', 'sds: the CA refused: ttl too long', { context: { caError: 'ERR_TTL_TOO_LONG', caMaxTtlSeconds: maxSeconds } });

  it('ok/requests that went out together with the old lifetime each learn the maximum; only the first lowers it', () => {
    const ttl = new RequestedTtl(8 * DAY);
    const asked = ttl.seconds;
    expect(ttl.learnFrom(refusal(7 * 86_400), asked)).toEqual({ capMs: 7 * DAY, isNew: true });
    // The second refusal of a request that asked the old lifetime: still a ttl refusal (retry at once), not news.
    expect(ttl.learnFrom(refusal(7 * 86_400), asked)).toEqual({ capMs: 7 * DAY, isNew: false });
    expect(ttl.ms).toBe(7 * DAY);
    expect(ttl.seconds).toBe(7 * 86_400);
  });

  it('fail/not a ttl refusal, or a maximum not below what was asked: nothing learnt', () => {
    const ttl = new RequestedTtl(DAY);
    expect(ttl.learnFrom(new CastellanError('ERR_CA_REFUSED', 'other', { context: { caError: 'ERR_KEY_TYPE' } }), ttl.seconds)).toBeUndefined();
    expect(ttl.learnFrom(refusal(2 * 86_400), ttl.seconds)).toBeUndefined();
    expect(ttl.ms).toBe(DAY);
  });
});

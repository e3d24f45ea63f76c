import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../../sds/agent.js';
import { pemToDer } from '../../sds/ca-client.js';
import { leafIssuerKeyId } from '../../sds/workload-svid.js';
import { FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';
import { fakeToken, caStandIn } from '../helpers/ca-stand-in.js';
import { envoy, h, lines, okReports, sidecar, useRotationHarness } from '../helpers/agent-rotation-harness.js';

useRotationHarness();

describe('agent side of root rotation: paced re-issue', () => {
  it('ok/a leaf of the old issuer is re-issued once within the spread window; a leaf of the active issuer is left alone', async () => {
    h.ca = await caStandIn();
    const clock = new ManualClock();
    let r = 0.5;
    const socketPath = path.join(h.t.dir, 'sds.sock');
    await sidecar({ clock, random: () => r, socketPath });
    const { responses } = await envoy(socketPath);
    const first = h.agent!.certificates()[0]!;
    expect(h.ca.signs).toHaveLength(1);
    await until(() => h.ca.watchers === 1, 'the bundle stream');

    // Prepare, then activate: the CA signs with the new intermediate and asks for a re-issue within 600 s.
    h.ca.push({ sequence: 2, roots: ['old', 'new'] });
    h.ca.state.signer = 'new';
    const activate = { sequence: 3, roots: ['old', 'new'] as ('old' | 'new')[], activeIssuerKeyId: h.ca.skiOf('new'), reissueSpreadSeconds: 600 };
    const t0 = clock.now().getTime();
    h.ca.push(activate);
    await until(() => h.agent!.trustBundle()?.sequence === 3, 'bundle 3');
    await until(() => clock.pending().some((p) => p.ms === 300_000), 'the paced renewal (random 0.5 × 600 s)');
    expect(lines('renewal brought forward')).toHaveLength(1);
    expect(h.ca.signs).toHaveLength(1);

    // The request again (a later sequence, even another spread) and after a reconnect: the moment was
    // drawn once for this leaf and issuer; no new one is drawn.
    r = 0.01;
    h.ca.push({ ...activate, sequence: 4, reissueSpreadSeconds: 60 });
    await until(() => h.agent!.trustBundle()?.sequence === 4 && okReports().includes(4), 'bundle 4 served and reported');
    h.ca.dropStreams();
    await until(() => clock.pending().some((p) => p.ms === 1_000), 'the stream retry timer');
    clock.advance(1_000);
    await until(() => h.ca.watchers === 1 && okReports().filter((s) => s === 4).length >= 2, 'the new stream and its report');
    expect(lines('renewal brought forward')).toHaveLength(1);
    expect(h.ca.signs).toHaveLength(1);
    const paced = clock.pending().find((p) => p.at - t0 === 300_000);
    expect(paced).toBeDefined();
    expect(clock.pending().filter((p) => p.at < t0 + 300_000)).toEqual([]);

    // At the drawn moment the leaf is re-issued by the new intermediate; ROOTCA was served before it.
    clock.advance(t0 + 300_000 - clock.now().getTime());
    await until(() => h.agent!.certificates()[0]!.serialHex !== first.serialHex, 'the re-issued leaf');
    expect(h.ca.signs.map((s) => s.issuer)).toEqual(['old', 'new']);
    expect(h.ca.signs[1]!.bundleSequence).toBe(4);
    await until(() => h.ca.events.some((e) => e.endsWith(`:${h.agent!.certificates()[0]!.serialHex}`)), 'the new leaf on SDS');
    const sdsEvents = h.ca.events.filter((e) => e.startsWith('sds:'));
    const newLeafAt = sdsEvents.findIndex((e) => e.endsWith(`:${h.agent!.certificates()[0]!.serialHex}`));
    expect(sdsEvents.findIndex((e) => e.startsWith('sds:2:'))).toBeLessThan(newLeafAt);
    expect(sdsEvents[newLeafAt]!.startsWith('sds:2:')).toBe(true);
    expect(
      leafIssuerKeyId({
        chain: pemToDer(
          responses
            .at(-1)!
            .resources.find((x) => x.name === 'default')!
            .tlsCertificate!.certificateChain.inlineBytes.toString(),
        ),
      }),
    ).toBe(h.ca.skiOf('new'));

    // Under the active issuer: repeated requests change nothing; the next attempt is the normal renewal.
    r = 0.5;
    h.ca.push({ ...activate, sequence: 5 });
    await until(() => h.agent!.trustBundle()?.sequence === 5, 'bundle 5');
    await new Promise((x) => setTimeout(x, 20));
    expect(lines('renewal brought forward')).toHaveLength(1);
    expect(h.ca.signs).toHaveLength(2);
    // Only the normal renewal is pending: half of what remains of the new leaf's lifetime.
    const half = (h.agent!.certificates()[0]!.notAfter.getTime() - clock.now().getTime()) / 2;
    expect(clock.pending().map((p) => Math.abs(p.ms - half) < 2_000)).toEqual([true]);
  });

  it('ok/a Sign answer that overtakes the bundle stream: its bundle is pushed on the SDS stream before its leaf', async () => {
    h.ca = await caStandIn();
    const clock = new ManualClock();
    const socketPath = path.join(h.t.dir, 'sds.sock');
    await sidecar({ clock, socketPath });
    const { responses } = await envoy(socketPath);
    await until(() => h.ca.watchers === 1 && okReports().includes(1), 'the bundle stream');
    const first = h.agent!.certificates()[0]!.serialHex;
    // The CA moved on, but the stream has not told the agent yet: only the Sign answer carries bundle 2.
    h.ca.state.bundle = { sequence: 2, roots: ['old', 'new'] };
    h.ca.state.signer = 'new';
    const seen = responses.length;
    clock.advance(clock.pending().find((p) => p.ms > 1_000_000)!.ms); // the normal renewal
    await until(() => h.agent!.certificates()[0]!.serialHex !== first && responses.length >= seen + 2, 'the renewal on SDS');
    const next = h.agent!.certificates()[0]!.serialHex;
    const sds = h.ca.events.filter((e) => e.startsWith('sds:')).slice(-2);
    expect(sds).toEqual([`sds:2:${first}`, `sds:2:${next}`]);
    // The agent serves bundle 2 now and says so.
    await until(() => okReports().includes(2), 'the report of 2');
    expect(h.ca.events.indexOf(`sds:2:${first}`)).toBeLessThan(h.ca.events.indexOf('ca:report:2'));
  });

  it('ok/the normal renewal wins when it comes before the drawn moment; an agent started after activation re-issues nothing', async () => {
    h.ca = await caStandIn();
    h.ca.state.signer = 'new';
    h.ca.push({ sequence: 3, roots: ['old', 'new'], activeIssuerKeyId: h.ca.skiOf('new'), reissueSpreadSeconds: 600 });
    const clock = new ManualClock();
    await sidecar({ clock, random: () => 0.5 });
    const w = await h.agent!.provider.watch({});
    await until(() => h.ca.watchers === 1 && h.agent!.trustBundle()?.sequence === 3, 'the bundle stream');
    await new Promise((x) => setTimeout(x, 20));
    expect(h.ca.signs.map((s) => s.issuer)).toEqual(['new']);
    expect(lines('renewal brought forward')).toEqual([]);
    w.close();
    await h.agent!.close();

    // An old leaf, but a spread so long that the normal renewal (at 30 min) comes first.
    h.ca.state.signer = 'old';
    h.ca.push({ sequence: 3, roots: ['old', 'new'] });
    const clock2 = new ManualClock();
    h.agent = undefined;
    await sidecar({ clock: clock2, random: () => 0.99 });
    await until(() => h.ca.watchers === 1 && h.agent!.certificates().length === 1, 'the second agent');
    h.ca.state.signer = 'new';
    h.ca.push({ sequence: 4, roots: ['old', 'new'], activeIssuerKeyId: h.ca.skiOf('new'), reissueSpreadSeconds: 36_000 });
    await until(() => h.agent!.trustBundle()?.sequence === 4, 'bundle 4');
    await new Promise((x) => setTimeout(x, 20));
    expect(lines('renewal brought forward')).toEqual([]);
    const renewal = clock2.pending().find((p) => p.ms > 1_000_000)!;
    // ~30 min (half of the 1 h leaf, the drawn 0.99 of the ±10 % jitter), not the 10 h spread; the leaf's
    // times come from the CA's real clock, a few ms away from the manual one.
    expect(renewal.ms).toBeGreaterThan(1_790_000);
    expect(renewal.ms).toBeLessThanOrEqual(1_801_000);
  });

  it('ok/node mode re-issues each identity of an old issuer, each at its own drawn moment', async () => {
    h.ca = await caStandIn();
    const clock = new ManualClock();
    const draws = [0.25, 0.75];
    let pacing = false;
    const agent = await startAgent({
      caAddress: h.ca.address,
      caBundlePem: h.ca.caBundlePem,
      mode: 'node',
      agentId: 'node-1',
      ttlMs: 3_600_000,
      renewal: { fraction: 0.5, jitter: 0 },
      backoff: { initialMs: 1_000, maxMs: 1_000, jitter: 0 },
      clock,
      // Only the paced re-issue draws while `pacing` (renewal and backoff have no jitter here).
      random: () => (pacing ? (draws.shift() ?? 0.5) : 0.5),
      log: h.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    h.agent = agent;
    const wa = await agent.provider.watch({ token: fakeToken('shop', 'cart') });
    const wb = await agent.provider.watch({ token: fakeToken('shop', 'payments') });
    // The bundle stream waits for a pod token (node mode's credential), retried every second.
    for (let i = 0; i < 20 && h.ca.watchers === 0; i++) {
      clock.advance(1_000);
      await new Promise((x) => setTimeout(x, 10));
    }
    await until(() => h.ca.watchers === 1 && okReports().includes(1), 'the bundle stream and report');
    const before = { a: wa.current().svid.serialHex, b: wb.current().svid.serialHex };
    expect(h.ca.signs.map((s) => s.issuer)).toEqual(['old', 'old']);

    h.ca.state.signer = 'new';
    pacing = true;
    const t0 = clock.now().getTime();
    h.ca.push({ sequence: 2, roots: ['old', 'new'], activeIssuerKeyId: h.ca.skiOf('new'), reissueSpreadSeconds: 100 });
    await until(() => lines('renewal brought forward').length === 2, 'both identities paced');
    pacing = false;
    const at = clock
      .pending()
      .map((p) => p.at - t0)
      .filter((d) => d <= 100_000)
      .sort((x, y) => x - y);
    expect(at).toEqual([25_000, 75_000]);

    clock.advance(25_000);
    await until(() => h.ca.signs.length === 3, 'the first re-issue');
    clock.advance(50_000);
    await until(() => h.ca.signs.length === 4, 'the second re-issue');
    expect(h.ca.signs.slice(2).map((s) => s.issuer)).toEqual(['new', 'new']);
    expect(
      h.ca.signs
        .slice(2)
        .map((s) => s.spiffeId)
        .sort(),
    ).toEqual(['spiffe://cluster.local/ns/shop/sa/cart', 'spiffe://cluster.local/ns/shop/sa/payments']);
    await until(() => wa.current().svid.serialHex !== before.a && wb.current().svid.serialHex !== before.b, 'both new leaves served');
    for (const w of [wa, wb]) expect(leafIssuerKeyId(w.current().svid)).toBe(h.ca.skiOf('new'));
    expect(h.ca.reports.every((x) => x.agentId === 'node-1')).toBe(true);
    wa.close();
    wb.close();
  });
});

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';
import { caStandIn } from '../helpers/ca-stand-in.js';
import { envoy, h, lines, okReports, REPORT_FAILED, settled, sidecar, UNIMPLEMENTED, useRotationHarness } from '../helpers/agent-rotation-harness.js';

useRotationHarness();

describe('agent side of root rotation: reporting the served bundle', () => {
  it('ok/reports the sequence after the bundle was pushed to an open SDS stream (ROOTCA first, then the report)', async () => {
    h.ca = await caStandIn();
    const socketPath = path.join(h.t.dir, 'sds.sock');
    await sidecar({ socketPath });
    await envoy(socketPath);
    await until(() => okReports().includes(1), 'the report of sequence 1');
    expect(h.ca.reports[0]).toMatchObject({ agentId: 'agent-1', sequence: 1 });
    // The agent's own credential (the sidecar's token file) authenticates the report.
    expect(JSON.parse(Buffer.from(h.ca.reports[0]!.token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'system:serviceaccount:shop:cart' });

    // Prepare: the new root joins the bundle.
    h.ca.push({ sequence: 2, roots: ['old', 'new'] });
    await until(() => okReports().includes(2), 'the report of sequence 2');
    const sds2 = h.ca.events.findIndex((e) => e.startsWith('sds:2:'));
    const report2 = h.ca.events.indexOf('ca:report:2');
    expect(sds2).toBeGreaterThanOrEqual(0);
    expect(sds2).toBeLessThan(report2);
    // The leaf did not change with the bundle.
    const serials = new Set(h.ca.events.filter((e) => e.startsWith('sds:')).map((e) => e.split(':')[2]));
    expect(serials.size).toBe(1);
    expect(h.agent!.trustBundle()!.sequence).toBe(2);
    expect(h.ca.signs.map((s) => s.bundleSequence)).toEqual([0]);
  });

  it('ok/coalesces reports to the newest sequence and retries failures with the capped backoff', async () => {
    h.ca = await caStandIn();
    h.ca.state.reportFailures = Number.MAX_SAFE_INTEGER;
    const clock = new ManualClock();
    await sidecar({ clock });
    const w = await h.agent!.provider.watch({});
    await until(() => h.ca.watchers === 1 && lines(REPORT_FAILED).length > 0 && clock.pending().some((p) => p.ms === 1_000), 'a failed report with its retry timer');
    // Let a report still on the wire (the Sign answer's bundle and the new stream's may overlap) land.
    await settled(() => h.ca.reports.length);
    const before = h.ca.reports.length;
    expect(h.ca.reports.every((r) => r.sequence === 1 && !r.ok)).toBe(true);

    // Three bundles while the retry waits: none is sent on its own.
    for (const sequence of [2, 3, 4]) h.ca.push({ sequence, roots: ['old', 'new'] });
    await until(() => h.agent!.trustBundle()?.sequence === 4, 'bundle 4 at the agent');
    expect(w.current().bundles[0]!.sequence).toBe(4);
    expect(h.ca.reports.length).toBe(before);

    // The retry sends only the newest; it fails again and waits twice as long.
    h.ca.state.reportFailures = 1;
    clock.advance(1_000);
    const failedBefore = lines(REPORT_FAILED).length;
    await until(() => h.ca.reports.length === before + 1 && lines(REPORT_FAILED).length === failedBefore + 1, 'the second failure');
    expect(h.ca.reports.at(-1)).toMatchObject({ sequence: 4, ok: false });
    expect(
      lines(REPORT_FAILED)
        .map((e) => e['retryInMs'])
        .slice(-2),
    ).toEqual([1_000, 2_000]);
    clock.advance(1_999);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.ca.reports.length).toBe(before + 1);
    clock.advance(1);
    await until(() => okReports().length === 1, 'the successful report');
    expect(okReports()).toEqual([4]);
    expect(h.ca.reports.filter((r) => r.sequence === 2 || r.sequence === 3)).toEqual([]);

    // Nothing new: nothing more is sent; a newer bundle is reported once.
    h.ca.push({ sequence: 5, roots: ['new'] });
    await until(() => okReports().length === 2, 'the report of 5');
    expect(okReports()).toEqual([4, 5]);
    w.close();
  });

  it('ok/a new WatchTrustBundle stream reports the served sequence again (a restarted CA learns it)', async () => {
    h.ca = await caStandIn();
    const clock = new ManualClock();
    await sidecar({ clock });
    await until(() => okReports().includes(1) && h.ca.watchers === 1, 'the first report');
    await settled(() => h.ca.reports.length);
    h.ca.dropStreams();
    await until(() => clock.pending().some((p) => p.ms === 1_000), 'the stream retry timer');
    clock.advance(1_000);
    // The sequence did not change, yet the CA hears it again after the second stream opened.
    await until(
      () => h.ca.events.lastIndexOf('ca:report:1') > h.ca.events.lastIndexOf('ca:watch') && h.ca.events.filter((e) => e === 'ca:watch').length === 2,
      'the report on the new stream',
    );
    expect(h.ca.reports.every((r) => r.sequence === 1 && r.ok)).toBe(true);
  });

  it('ok/closing the agent cancels a report in flight and schedules no retry', async () => {
    h.ca = await caStandIn();
    h.ca.state.holdReports = true;
    const clock = new ManualClock();
    await sidecar({ clock });
    await until(() => h.ca.events.includes('ca:report:1:held'), 'a report in flight');
    await h.agent!.close();
    h.agent = undefined;
    await until(() => h.ca.events.includes('ca:report:1:cancelled'), 'the cancelled report');
    await new Promise((r) => setTimeout(r, 20));
    expect(lines(REPORT_FAILED)).toEqual([]);
    expect(clock.pending().filter((p) => p.ms <= 8_000)).toEqual([]);
  });

  it('fail/a CA without ReportTrustBundle (UNIMPLEMENTED): said once at info, no more reports, serving goes on', async () => {
    h.ca = await caStandIn({ implementReport: false });
    const socketPath = path.join(h.t.dir, 'sds.sock');
    await sidecar({ socketPath });
    await envoy(socketPath);
    await until(() => h.ca.reports.length > 0 && lines(UNIMPLEMENTED).length === 1, 'the refused report');
    const calls = h.ca.reports.length;
    expect(calls).toBeLessThanOrEqual(2); // one from the Sign answer's bundle, one for the new stream at most
    h.ca.push({ sequence: 2, roots: ['old', 'new'] });
    h.ca.push({ sequence: 3, roots: ['old', 'new'] });
    await until(() => h.ca.events.some((e) => e.startsWith('sds:2:')) && h.agent!.trustBundle()?.sequence === 3, 'the pushed bundles');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.ca.reports.length).toBe(calls);
    expect(lines(UNIMPLEMENTED)).toHaveLength(1);
    expect(lines(UNIMPLEMENTED)[0]!['level']).toBe(30); // info
    expect(lines(REPORT_FAILED)).toEqual([]);
    expect(h.agent!.notReadyReason()).toBeUndefined();
    expect(h.agent!.certificates()).toHaveLength(1);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { initCa, loadCa } from '../../ca/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import { AgentMetrics } from '../../sds/agent-metrics.js';
import { CaConnection } from '../../sds/ca-connection.js';
import { CastellanError, TrustDomain } from '../../workload-identity/index.js';
import { runAgent } from '../../cli/agent.js';
import { resolveAgentConfig } from '../../sds/index.js';
import { cli } from '../helpers/cli.js';
import { memoryLog } from '../helpers/ca-server.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { until } from '../helpers/until.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
let otherBundle: string;
let tls: Server | undefined;
beforeEach(async () => {
  f = await agentFixture();
  const other = path.join(f.dir, 'other-ca');
  await initCa({ dir: other, trustDomain: TrustDomain.of('cluster.local') });
  otherBundle = (await loadCa(other)).bundle.map((c) => c.pem).join('');
});
afterEach(async () => {
  await agent?.close();
  agent = undefined;
  tls?.close();
  tls = undefined;
  await f.cleanup();
});

type Entry = { level: number; msg: string; reason?: string; flag?: string };
const entries = (lines: string[]) => lines.map((l) => JSON.parse(l) as Entry);

/** A TLS server with a workload certificate of the right CA: trusted, but not the CA and not for "localhost". */
async function imposter(): Promise<string> {
  const out = path.join(f.dir, 'imposter');
  expect((await cli(['ca', 'mint', '--dir', f.caDir, '--spiffe-id', 'spiffe://cluster.local/ns/shop/sa/web', '--out', out])).code).toBe(0);
  tls = createServer({ cert: readFileSync(path.join(out, 'chain.pem')), key: readFileSync(path.join(out, 'key.pem')) }, (s) => s.end());
  await new Promise<void>((resolve) => tls!.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(tls.address() as { port: number }).port}`;
}

const CASES: [code: string, flag: string, where: () => Promise<{ caAddress: string; caBundlePem: string }>][] = [
  ['ERR_CA_UNTRUSTED', '--ca-bundle', async () => ({ caAddress: f.address, caBundlePem: otherBundle })],
  ['ERR_CA_NOT_TLS', '--ca-addr', async () => ({ caAddress: `127.0.0.1:${f.ca.server.httpPort}`, caBundlePem: f.bundlePem })],
  ['ERR_CA_NAME_MISMATCH', '--ca-server-name', async () => ({ caAddress: await imposter(), caBundlePem: f.bundlePem })],
];

describe("agent: a CA connection that fails because of the agent's configuration", () => {
  it.each(CASES)('fail/%s: named once at error with %s, retried quietly, in readiness and metrics; no empty "Resolution note:"', async (code, flag, where) => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    const { log, lines } = memoryLog();
    agent = await startAgent({ ...(await where()), tokenFile, backoff: { initialMs: 20, maxMs: 50 }, log, caChannelOptions: FAST_CHANNEL });
    const failures = async () => parsePrometheusText(await agent!.registry.metrics()).find('castellan_agent_rotation_failures_total', { reason: code })[0]?.value ?? 0;
    await until(async () => (await failures()) >= 4, `four failed requests with reason ${code}`, 20_000);

    const all = entries(lines);
    const said = all.filter((e) => e.msg.startsWith('cannot talk to the CA'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 50, reason: code, flag });
    expect(said[0]!.msg).toContain(`check ${flag}`);
    // The retries themselves are not logged at info or above (only at debug).
    expect(all.filter((e) => e.msg === 'certificate request failed; retrying')).toEqual([]);
    expect(lines.join('\n')).not.toContain('Resolution note');

    expect(agent.notReadyReason()).toContain(flag);
    const m = parsePrometheusText(await agent.registry.metrics());
    expect(m.find('castellan_agent_ca_connection_problem', { reason: code })[0]?.value).toBe(1);
    expect(m.find('castellan_agent_ca_connection_problem').filter((s) => s.value === 1)).toHaveLength(1);
    // A workload asking meanwhile is told the same (UNAVAILABLE through its SDS/Workload API stream).
    await expect(agent.provider.watch({})).rejects.toMatchObject({ code: 'ERR_NOT_READY', message: expect.stringContaining(flag) });
  });

  it('ok/the first handshake failing for both the first Sign and the bundle watch is not said yet (a starting CA may be behind it)', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    const { log, lines } = memoryLog();
    agent = await startAgent({ caAddress: f.address, caBundlePem: otherBundle, tokenFile, backoff: { initialMs: 60_000, maxMs: 60_000 }, log, caChannelOptions: FAST_CHANNEL });
    const failures = async () =>
      parsePrometheusText(await agent!.registry.metrics()).find('castellan_agent_rotation_failures_total', { reason: 'ERR_CA_UNTRUSTED' })[0]?.value ?? 0;
    await until(async () => (await failures()) >= 1, 'the first Sign to fail', 20_000);
    await new Promise((r) => setTimeout(r, 500)); // the bundle watch fails on the same handshake meanwhile
    expect(entries(lines).filter((e) => e.msg.startsWith('cannot talk to the CA'))).toEqual([]);
    expect(agent.notReadyReason()).toContain('--ca-bundle');
  });

  it('ok/castellan agent: /readyz of a node agent lists the misconfiguration as a warning (it still serves what it holds)', async () => {
    const tokenFile = path.join(f.dir, 'agent-token');
    await f.writeToken(tokenFile, 'castellan-system', 'castellan-agent');
    writeFileSync(path.join(f.dir, 'wrong-bundle.pem'), otherBundle);
    const config = resolveAgentConfig({
      caAddr: f.address,
      caBundle: path.join(f.dir, 'wrong-bundle.pem'),
      tokenFile,
      mode: 'node',
      socket: path.join(f.dir, 'sds.sock'),
      http: '127.0.0.1:0',
      retryInitial: '20ms',
      retryMax: '50ms',
    });
    let err = '';
    const io = { out: () => {}, err: (s: string) => void (err += s), cwd: f.dir, env: {}, now: () => new Date() };
    const { log, lines } = memoryLog();
    let stop!: () => void;
    const done = runAgent(config, io, log, new Promise<void>((resolve) => (stop = resolve)));
    try {
      await until(() => /HTTP on port \d+/.test(err), 'the agent to start');
      const port = /HTTP on port (\d+)/.exec(err)![1];
      await until(() => lines.some((l) => l.includes('cannot talk to the CA')), 'the misconfiguration to be said');
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/^ready\nwarning: sds: the CA at .* presented a certificate that no root in --ca-bundle verifies/);
    } finally {
      stop();
      await done;
    }
  });
});

describe('CaConnection', () => {
  it('ok/failures of one handshake, then an answer on the retry (a starting CA\'s placeholder certificate), are not reported: no error line, no "answers again"', async () => {
    const { log, lines } = memoryLog();
    let now = 0;
    const c = new CaConnection(log, { confirmAfterMs: 800, now: () => now });
    const p = new CastellanError('ERR_CA_UNTRUSTED', 'sds: the CA at x presented a certificate that no root in --ca-bundle verifies', {
      context: { flag: '--ca-bundle', caAddress: 'x' },
    });
    // Sign and WatchTrustBundle fail together on the first handshake: one sighting.
    c.update(p);
    c.update(p);
    expect(c.current?.code).toBe('ERR_CA_UNTRUSTED');
    now += 1000;
    c.update(undefined);
    expect(lines.filter((l) => l.includes('cannot talk to the CA') || l.includes('the CA answers again'))).toEqual([]);
    // The same failure again after the first retry delay is a misconfiguration, said once.
    c.update(p);
    now += 900;
    c.update(p);
    now += 2000;
    c.update(p);
    expect(entries(lines).filter((e) => e.msg.startsWith('cannot talk to the CA'))).toMatchObject([{ level: 50, reason: 'ERR_CA_UNTRUSTED', flag: '--ca-bundle' }]);
  });

  it('ok/said once per new problem, cleared (with one line) when the CA answers, the gauge follows', async () => {
    const { log, lines } = memoryLog();
    const registry = new Registry();
    const metrics = new AgentMetrics(
      registry,
      () => [],
      () => new Date(),
      () => undefined,
    );
    let now = 0;
    const c = new CaConnection(log, { confirmAfterMs: 800, now: () => now });
    c.attach(metrics);
    const p = new CastellanError('ERR_CA_NOT_TLS', 'sds: x does not answer with TLS', { context: { flag: '--ca-addr', caAddress: 'x' } });
    c.update(p);
    now += 1000;
    c.update(p);
    now += 2000;
    c.update(p);
    expect(lines.filter((l) => l.includes('cannot talk to the CA'))).toHaveLength(1);
    expect(parsePrometheusText(await registry.metrics()).find('castellan_agent_ca_connection_problem', { reason: 'ERR_CA_NOT_TLS' })[0]?.value).toBe(1);
    c.update(undefined);
    expect(c.current).toBeUndefined();
    expect(lines.filter((l) => l.includes('the CA answers again'))).toHaveLength(1);
    expect(parsePrometheusText(await registry.metrics()).find('castellan_agent_ca_connection_problem', { reason: 'ERR_CA_NOT_TLS' })[0]?.value).toBe(0);
  });
});

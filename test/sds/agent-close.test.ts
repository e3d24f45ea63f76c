// The agent's one way down (sds/agent.ts Agent.close): idempotent, usable while the agent starts, and
// waiting for the workload socket (streams end with status OK, the file goes) as part of the teardown.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent, startAgent, type AgentOptions } from '../../sds/index.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { EnvoySdsClient } from '../helpers/envoy-sds-client.js';
import { asyncCodeOf } from '../helpers/error-code.js';
import { until } from '../helpers/until.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
const clients: EnvoySdsClient[] = [];
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.sds.close(), c.workload.close();
  await agent?.close();
  agent = undefined;
  await f.cleanup();
});

const messages = () => f.log.lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
const bundleWatchers = async () => (await f.ca.server.metrics.bundleWatchers.get()).values[0]?.value ?? 0;
const signs = () => f.ca.lines.filter((l) => (JSON.parse(l) as { event?: string }).event === 'issued').length;

async function options(): Promise<AgentOptions> {
  const tokenFile = path.join(f.dir, 'token');
  await f.writeToken(tokenFile, 'shop', 'cart');
  return { caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, socketPath: path.join(f.dir, 'sds.sock'), ttlMs: 3_600_000, log: f.log.log, caChannelOptions: FAST_CHANNEL };
}

describe('Agent.close', () => {
  it('ok/closing twice: both calls get the same teardown, done once', async () => {
    const o = await options();
    agent = await startAgent(o);
    await until(async () => (await bundleWatchers()) === 1, 'the bundle stream');
    const first = agent.close();
    const second = agent.close();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await agent.close();
    expect(messages().filter((m) => m === 'castellan agent stopped')).toHaveLength(1);
    expect(messages().filter((m) => m === 'sds: socket closed')).toHaveLength(1);
    expect(existsSync(o.socketPath!)).toBe(false);
    expect(agent.notReadyReason()).toBe('shutting down');
    await until(async () => (await bundleWatchers()) === 0, 'the bundle stream to end at the CA');
  });

  it('ok/closing with open streams: SDS and Workload API streams end with status OK and the socket is gone before the agent reports it stopped', async () => {
    const o = await options();
    agent = await startAgent(o);
    const c = new EnvoySdsClient(o.socketPath!);
    clients.push(c);
    const sotw = c.sotw();
    const ended: string[] = [];
    const sotwStatus = new Promise<number>((resolve) => sotw.stream.on('status', (s: { code: number }) => resolve(s.code)));
    sotw.stream.on('error', () => undefined);
    sotw.request({ names: ['default', 'ROOTCA'] });
    await sotw.next();
    const x509 = c.x509Svid();
    const x509Status = new Promise<number>((resolve) => x509.stream.on('status', (s: { code: number }) => resolve(s.code)));
    x509.stream.on('error', () => undefined);
    await x509.next();
    await until(async () => (await bundleWatchers()) === 1, 'the bundle stream');
    void sotwStatus.then(() => ended.push('sotw'));
    void x509Status.then(() => ended.push('x509'));

    await agent.close();
    expect([await sotwStatus, await x509Status]).toEqual([status.OK, status.OK]);
    expect(ended.sort()).toEqual(['sotw', 'x509']);
    // close() waited for the socket (its streams ended, its file removed) before finishing the teardown.
    const order = messages();
    expect(order.indexOf('sds: socket closed')).toBeGreaterThan(-1);
    expect(order.indexOf('sds: socket closed')).toBeLessThan(order.indexOf('castellan agent stopped'));
    expect(existsSync(o.socketPath!)).toBe(false);
    await until(async () => (await bundleWatchers()) === 0, 'the bundle stream to end at the CA');
  });

  it('ok/closing while it starts: start rejects ERR_NOT_READY, the socket is removed and nothing keeps running', async () => {
    const o = await options();
    agent = new Agent(o);
    const started = agent.start();
    const closed = agent.close();
    expect(await asyncCodeOf(started)).toBe('ERR_NOT_READY');
    await closed;
    expect(agent.socket).toBeUndefined();
    expect(existsSync(o.socketPath!)).toBe(false);
    expect(messages().filter((m) => m === 'castellan agent stopped')).toHaveLength(1);
    // No renewal and no bundle stream outlive the agent.
    const before = signs();
    await new Promise((r) => setTimeout(r, 300));
    expect(signs()).toBe(before);
    expect(await bundleWatchers()).toBe(0);
    // A closed agent does not start again.
    expect(await asyncCodeOf(agent.start())).toBe('ERR_NOT_READY');
  });

  it('fail/a socket path that cannot be used: start rejects with its code and what it started is stopped', async () => {
    const o = await options();
    writeFileSync(o.socketPath!, 'not a socket');
    agent = new Agent(o);
    expect(await asyncCodeOf(agent.start())).toBe('ERR_SOCKET_PATH');
    expect(messages().filter((m) => m === 'castellan agent stopped')).toHaveLength(1);
    expect(agent.notReadyReason()).toBe('shutting down');
    await until(async () => (await bundleWatchers()) === 0, 'no bundle stream at the CA');
    const before = signs();
    await new Promise((r) => setTimeout(r, 300));
    expect(signs()).toBe(before);
  });
});

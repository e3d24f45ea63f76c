import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../sds/index.js';
import { cli } from '../helpers/cli.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { until } from '../helpers/until.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
let socket: string;
beforeEach(async () => {
  f = await agentFixture();
  socket = path.join(f.dir, 'sds.sock');
});
afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await f.cleanup();
});

describe('castellan agent status', () => {
  it('ok/sidecar: the identity, serial, not-after, bundle sequence and roots it serves; never a key', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, socketPath: socket, log: f.log.log, caChannelOptions: FAST_CHANNEL });
    await until(() => agent!.certificates().length === 1, 'the first certificate');
    const held = agent.certificates()[0]!;

    const j = await cli(['agent', 'status', '--socket', socket, '--output', 'json']);
    expect(j.code, j.err).toBe(0);
    const s = JSON.parse(j.out);
    expect(s).toMatchObject({
      agent: { mode: 'sidecar', ca: f.address, ready: true, version: '0.1.0' },
      bundle: { trustDomain: 'cluster.local', sequence: 1 },
      shown: 'all',
      identities: [{ spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart', serial: held.serialHex, notAfter: held.notAfter.toISOString() }],
    });
    expect(s.bundle.roots).toHaveLength(1);
    expect(s.bundle.roots[0].subject).toContain('Castellan Root CA 1');
    expect(s.identities[0].chain.map((c: { subject: string }) => c.subject)).toHaveLength(2);
    expect(j.out).not.toMatch(/PRIVATE KEY|keyPem|keyPkcs8/);

    const text = await cli(['agent', 'status', '--socket', socket]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^agent \S+ \(sidecar mode, version 0\.1\.0, commit \S+\), CA 127\.0\.0\.1:\d+: ready$/m);
    expect(text.out).toMatch(/^trust bundle: cluster\.local, sequence 1, 1 root$/m);
    expect(text.out).toMatch(new RegExp(`^spiffe://cluster\\.local/ns/shop/sa/cart\\s+${held.serialHex}\\s+${held.notAfter.toISOString().replace(/\./g, '\\.')}\\s+in 23h`, 'm'));
  });

  it("ok/node mode: only the identity the caller's token already holds; none without a token; nothing issued to look", async () => {
    agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, mode: 'node', socketPath: socket, log: f.log.log, caChannelOptions: FAST_CHANNEL });
    const cart = await f.mint('shop', 'cart');
    const w = await agent.provider.watch({ token: cart });
    writeFileSync(path.join(f.dir, 'cart.token'), cart);
    writeFileSync(path.join(f.dir, 'web.token'), await f.mint('shop', 'web'));

    const none = JSON.parse((await cli(['agent', 'status', '--socket', socket, '--output', 'json'])).out);
    expect(none).toMatchObject({ agent: { mode: 'node' }, shown: 'none', held: 1, identities: [] });
    const text = await cli(['agent', 'status', '--socket', socket]);
    expect(text.out).toContain('node mode: the agent holds 1 identity; give --token-file');

    const mine = JSON.parse((await cli(['agent', 'status', '--socket', socket, '--token-file', path.join(f.dir, 'cart.token'), '--output', 'json'])).out);
    expect(mine).toMatchObject({ shown: 'token', identities: [{ spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart', serial: w.current().svid.serialHex }] });

    // Another pod's token that never opened a stream here: nothing shown, and looking issued nothing.
    const other = JSON.parse((await cli(['agent', 'status', '--socket', socket, '--token-file', path.join(f.dir, 'web.token'), '--output', 'json'])).out);
    expect(other).toMatchObject({ shown: 'token', held: 1, identities: [] });
    expect(agent.certificates().map((c) => c.id.toString())).toEqual(['spiffe://cluster.local/ns/shop/sa/cart']);
    w.close();
  });

  it('fail/no agent on the socket: exit 1 naming --socket (JSON error with --output json)', async () => {
    const r = await cli(['agent', 'status', '--socket', path.join(f.dir, 'nothing.sock'), '--output', 'json']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    const e = JSON.parse(r.err).error;
    expect(e.code).toBe('ERR_AGENT_UNREACHABLE');
    expect(e.message).toContain('check --socket');
    expect(e.message).not.toContain('Resolution note');
  });
});

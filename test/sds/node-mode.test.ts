import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../sds/agent.js';
import { SdsClient } from '../../sds/index.js';
import { tokenSha256 } from '../../workload-identity/index.js';
import { memoryLog } from '../helpers/ca-server.js';
import { asyncCodeOf, failureOf } from '../helpers/error-code.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';
import { fakeToken, caStandIn } from '../helpers/ca-stand-in.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
const clients: SdsClient[] = [];
beforeEach(async () => {
  f = await agentFixture({ config: { policy: { denyNamespaces: ['forbidden'] } } });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await agent?.close();
  agent = undefined;
  await f.cleanup();
});

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
type Entry = Record<string, unknown>;
const issued = () => f.ca.lines.map((l) => JSON.parse(l) as Entry).filter((e) => e['event'] === 'issued');

async function nodeAgent(extra: Partial<Parameters<typeof startAgent>[0]> = {}) {
  agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, mode: 'node', ttlMs: 3_600_000, log: f.log.log, caChannelOptions: FAST_CHANNEL, ...extra });
  return agent;
}

describe('node mode', () => {
  it("ok/two pods' tokens → two identities; each stream gets only its own; one key per identity", async () => {
    const a = await nodeAgent({ clock: new ManualClock() });
    const tokenA = await f.mint('shop', 'cart');
    const tokenB = await f.mint('shop', 'payments');
    const wa = await a.provider.watch({ token: tokenA });
    const wb = await a.provider.watch({ token: tokenB });
    expect(wa.current().svid.id.toString()).toBe(id('shop', 'cart'));
    expect(wb.current().svid.id.toString()).toBe(id('shop', 'payments'));
    expect(wa.current().svid.keyPem).not.toBe(wb.current().svid.keyPem);
    // A second stream of the same pod, and a pod of the same service account with its own token, share
    // the identity's one key and certificate.
    const wa2 = await a.provider.watch({ token: tokenA });
    const wa3 = await a.provider.watch({ token: await f.mint('shop', 'cart') });
    expect(wa2.current().svid).toBe(wa.current().svid);
    expect(wa3.current().svid).toBe(wa.current().svid);
    // One signature per identity: the third token (same identity) is only checked with the CA
    // (Authenticate), and the second stream of the first token shares that token's fresh check.
    expect(issued().map((e) => e['tokenSha256'])).toEqual([tokenSha256(tokenA), tokenSha256(tokenB)]);
    expect(
      a
        .certificates()
        .map((c) => c.id.toString())
        .sort(),
    ).toEqual([id('shop', 'cart'), id('shop', 'payments')]);
    for (const w of [wa, wb, wa2, wa3]) w.close();
  });

  it("fail/a refused token fails only its own stream, with the CA's reason; the others keep being served", async () => {
    const socketPath = path.join(f.dir, 'sds.sock');
    const a = await nodeAgent({ socketPath });
    const good = new SdsClient({ socketPath, token: await f.mint('shop', 'cart') });
    clients.push(good);
    const first = await good.ready();
    expect(first.certificateChainPem).toContain('BEGIN CERTIFICATE');

    const cases: [string, string | undefined, number, string][] = [
      ['wrong audience', await f.mint('shop', 'cart', { audiences: ['not-castellan'] }), 16 /* UNAUTHENTICATED */, 'ERR_TOKEN_REJECTED'],
      ['denied namespace', await f.mint('forbidden', 'x'), 7 /* PERMISSION_DENIED */, 'ERR_PERMISSION_DENIED'],
      ['garbage', 'not-a-jwt', 16, 'ERR_TOKEN_MALFORMED'],
      ['no token', undefined, 16, 'ERR_TOKEN_MISSING'],
    ];
    for (const [what, token, grpcCode, code] of cases) {
      const bad = new SdsClient({ socketPath, ...(token !== undefined ? { token } : {}), reconnectDelayMs: 60_000 });
      clients.push(bad);
      const err = await new Promise<Error & { code?: number; details?: string }>((resolve) => bad.once('error', resolve));
      expect(err.code, what).toBe(grpcCode);
      bad.close();
      const direct = await failureOf(a.provider.watch(token !== undefined ? { token } : {}));
      expect(direct?.code, what).toBe(code);
      if (what === 'wrong audience') expect(direct?.message).toMatch(/audience/);
      if (what === 'denied namespace') expect(direct?.message).toMatch(/forbidden/);
    }
    // The good pod still has its identity, and a new pod still gets one.
    expect(good.current()!.certificateChainPem).toBe(first.certificateChainPem);
    const other = await a.provider.watch({ token: await f.mint('shop', 'payments') });
    expect(other.current().svid.id.toString()).toBe(id('shop', 'payments'));
    other.close();
    expect(await a.registry.metrics()).toMatch(/castellan_agent_node_token_refusals_total\{reason="ERR_TOKEN_REJECTED"\} [1-9]/);
    // Tokens never reach the agent's log; their SHA-256 does.
    expect(f.log.lines.join('')).not.toContain('not-a-jwt');
  });

  it('fail/an expired token is refused without asking the CA', async () => {
    const a = await nodeAgent({ clock: new ManualClock() });
    const old = await f.mint('shop', 'cart', { ttlSeconds: 600, now: new Date(Date.now() - 3_600_000) });
    expect(await asyncCodeOf(a.provider.watch({ token: old }))).toBe('ERR_TOKEN_EXPIRED');
    expect(issued()).toEqual([]);
  });

  it('ok/renews with the newest valid pod token, then with the SVID itself once every token expired; releases idle identities', async () => {
    const clock = new ManualClock();
    const a = await nodeAgent({ clock, renewal: { fraction: 0.5, jitter: 0 }, nodeIdleMs: 60_000 });
    const token = await f.mint('shop', 'cart', { ttlSeconds: 1200 });
    const w = await a.provider.watch({ token });
    const serials = [w.current().svid.serialHex];
    w.onChange(() => serials.push(w.current().svid.serialHex));
    // Renewal at ~30 min: the pod token (20 min) has expired by then, so the agent renews over mTLS
    // with the still-valid SVID.
    clock.fireNext((p) => p.ms > 1_000_000);
    await until(() => serials.length === 2, 'the renewal');
    const auth = issued().map((e) => e['authenticator']);
    expect(auth).toEqual(['jwks', 'client-certificate']);
    expect(issued()[1]!['spiffeId']).toBe(id('shop', 'cart'));
    // The last stream closes: after the idle time the identity is released.
    w.close();
    expect(a.certificates()).toHaveLength(1);
    clock.advance(60_000);
    expect(a.certificates()).toHaveLength(0);
  });

  it('fail/a stream cancelled while its token is checked leaves no identity behind and costs no signature', async () => {
    const clock = new ManualClock();
    const a = await nodeAgent({ clock, nodeIdleMs: 1000 });
    const ac = new AbortController();
    const p = a.provider.watch({ token: await f.mint('shop', 'cart') }, ac.signal);
    ac.abort();
    expect(await asyncCodeOf(p)).toBe('ERR_CANCELLED');
    expect(a.certificates()).toEqual([]);
    expect(issued()).toEqual([]);
  });

  it("fail/a stream cancelled while its identity's first certificate is signed leaves no identity behind once the idle time passes", async () => {
    const clock = new ManualClock();
    const a = await nodeAgent({ clock, nodeIdleMs: 1000 });
    const ac = new AbortController();
    const token = await f.mint('shop', 'cart');
    const first = a.provider.watch({ token });
    const p = a.provider.watch({ token }, ac.signal);
    ac.abort();
    expect(await asyncCodeOf(p)).toBe('ERR_CANCELLED');
    (await first).close();
    expect(a.certificates().map((c) => c.id.toString())).toEqual([id('shop', 'cart')]);
    clock.advance(1000);
    expect(a.certificates()).toEqual([]);
  });

  it('fail/tokens that are not JWTs with an exp are refused locally, without a CA call', async () => {
    const a = await nodeAgent({ clock: new ManualClock() });
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const before = f.ca.lines.length;
    for (const token of [
      'garbage',
      'a.b',
      `${b64({ alg: 'RS256' })}.${b64({ sub: 'x' })}.c2ln`,
      `${b64({ alg: 'RS256' })}.bm90IGpzb24.c2ln`,
      `${b64([1])}.${b64({ exp: 1 })}.c2ln`,
    ]) {
      expect(await asyncCodeOf(a.provider.watch({ token })), token).toBe('ERR_TOKEN_MALFORMED');
    }
    expect(f.ca.lines.length).toBe(before);
    expect(await a.registry.metrics()).toMatch(/castellan_agent_node_token_refusals_total\{reason="ERR_TOKEN_MALFORMED"\} 5/);
  });

  it('fail/a token the CA refused is refused locally for 30 s, then asked again', async () => {
    const clock = new ManualClock();
    const a = await nodeAgent({ clock });
    const token = await f.mint('shop', 'cart', { audiences: ['not-castellan'] });
    const sha = tokenSha256(token);
    const caSaw = () => f.ca.lines.filter((l) => l.includes(sha)).length;
    expect(await asyncCodeOf(a.provider.watch({ token }))).toBe('ERR_TOKEN_REJECTED');
    const once = caSaw();
    expect(once).toBeGreaterThan(0);
    const again = await Promise.all(Array.from({ length: 20 }, () => asyncCodeOf(a.provider.watch({ token }))));
    expect(new Set(again)).toEqual(new Set(['ERR_TOKEN_REJECTED']));
    expect(caSaw()).toBe(once);
    clock.advance(30_001);
    expect(await asyncCodeOf(a.provider.watch({ token }))).toBe('ERR_TOKEN_REJECTED');
    expect(caSaw()).toBe(once * 2);
  });

  it("fail/token checks beyond a connection's bound are refused UNAVAILABLE at once; the others wait their turn and succeed", async () => {
    const a = await nodeAgent({ clock: new ManualClock(), nodeProofLimits: { inFlight: 1, perConnection: 2 } });
    const tokens = await Promise.all(['a', 'b', 'c'].map((sa) => f.mint('shop', sa)));
    const results = await Promise.allSettled(tokens.map((token) => a.provider.watch({ token, peer: 'unix-socket:1' })));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes).toEqual(['ok', 'ok', 'ERR_NOT_READY']);
    expect((results[2] as PromiseRejectedResult).reason.message).toMatch(/already has 2 token checks/);
    for (const r of results) if (r.status === 'fulfilled') r.value.close();
    // Slots are released: a later proof runs.
    const later = await a.provider.watch({ token: tokens[2]! });
    expect(later.current().svid.id.toString()).toBe(id('shop', 'c'));
    later.close();
  });
});

describe('node mode against a CA without Authenticate (older than the agent)', () => {
  it('ok/tokens are proved by a signature instead, with a warning; streams are still served only their own identity', async () => {
    const ca = await caStandIn({ implementAuthenticate: false });
    const log = memoryLog();
    const a = await startAgent({
      caAddress: ca.address,
      caBundlePem: ca.caBundlePem,
      mode: 'node',
      ttlMs: 3_600_000,
      clock: new ManualClock(),
      log: log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    try {
      const wa = await a.provider.watch({ token: fakeToken('shop', 'cart') });
      const wb = await a.provider.watch({ token: fakeToken('shop', 'payments') });
      expect([wa.current().svid.id.toString(), wb.current().svid.id.toString()]).toEqual([id('shop', 'cart'), id('shop', 'payments')]);
      // Each token: one proof by signature (discarded) and the identity's own first certificate.
      expect(ca.signs.map((x) => x.spiffeId)).toEqual([id('shop', 'cart'), id('shop', 'cart'), id('shop', 'payments'), id('shop', 'payments')]);
      expect(log.lines.filter((l) => l.includes('does not implement Authenticate'))).toHaveLength(1);
      wa.close();
      wb.close();
    } finally {
      await a.close();
      ca.close();
    }
  });
});

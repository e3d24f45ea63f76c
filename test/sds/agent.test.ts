import { X509Certificate, createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tokenSha256 } from '../../workload-identity/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import type { SecretChange } from '../../sds/index.js';
import { loadCa } from '../../ca/index.js';
import { asyncCodeOf } from '../helpers/error-code.js';
import { testCa } from '../helpers/test-ca.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

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

const issuedLines = () => f.ca.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['event'] === 'issued');

describe('agent, sidecar mode', () => {
  it('ok/gets the pod identity with the token file and serves key, chain and bundle', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    const clock = new ManualClock();
    agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, ttlMs: 3_600_000, clock, log: f.log.log, caChannelOptions: FAST_CHANNEL });
    const w = await agent.provider.watch({});
    const snap = w.current();
    expect(snap.svid.id.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    const leaf = new X509Certificate(snap.svid.chain[0]!);
    expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/shop/sa/cart');
    expect(leaf.checkPrivateKey(createPrivateKey({ key: snap.svid.keyPkcs8Der, format: 'der', type: 'pkcs8' }))).toBe(true);
    expect(snap.svid.serialHex).toBe(leaf.serialNumber.toLowerCase());
    expect(snap.bundles[0]!.trustDomain.name).toBe('cluster.local');
    expect(snap.bundles[0]!.rootsPem.replace(/\s/g, '')).toBe(f.bundlePem.replace(/\s/g, ''));
    // The leaf verifies up through the served chain to the served root.
    const chain = snap.svid.chain.map((d) => new X509Certificate(d));
    const root = new X509Certificate(snap.bundles[0]!.roots[0]!);
    expect(chain[0]!.verify(chain[1]!.publicKey)).toBe(true);
    expect(chain[chain.length - 1]!.verify(root.publicKey)).toBe(true);
    // Lifetime asked: 1 h; renewal scheduled between 40 % and 60 % of it.
    const lifetime = snap.svid.notAfter.getTime() - clock.now().getTime();
    expect(lifetime).toBeGreaterThan(3_500_000);
    const renewal = clock.pending().find((p) => p.ms > 60_000)!;
    expect(renewal.ms).toBeGreaterThanOrEqual(0.4 * lifetime - 1000);
    expect(renewal.ms).toBeLessThanOrEqual(0.6 * lifetime + 1000);
    // The trust-bundle stream is followed (the CA counts it), and the agent exports its expiry.
    for (let i = 0; i < 200 && (await f.ca.server.metrics.bundleWatchers.get()).values[0]?.value !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await f.ca.server.metrics.bundleWatchers.get()).values[0]?.value).toBe(1);
    expect(await agent.registry.metrics()).toMatch(/castellan_agent_certificate_expiry_seconds\{spiffe_id="spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart"\} 3[56]\d\d/);
    expect(agent.notReadyReason()).toBeUndefined();
    w.close();
  });

  it('ok/re-reads the token file on every request: the CA sees the rotated token', async () => {
    const tokenFile = path.join(f.dir, 'token');
    const first = await f.writeToken(tokenFile, 'shop', 'cart');
    const clock = new ManualClock();
    agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, ttlMs: 3_600_000, clock, log: f.log.log, caChannelOptions: FAST_CHANNEL });
    const w = await agent.provider.watch({});
    const serial1 = w.current().svid.serialHex;
    const second = await f.writeToken(tokenFile, 'shop', 'cart');
    expect(second).not.toBe(first);
    const changes: ReadonlySet<SecretChange>[] = [];
    w.onChange((c) => changes.push(c));
    clock.fireNext((p) => p.ms > 60_000); // the renewal
    await until(() => changes.length > 0, 'the renewed certificate');
    expect([...changes[0]!]).toEqual(['svid']);
    expect(w.current().svid.serialHex).not.toBe(serial1);
    const shas = issuedLines().map((e) => e['tokenSha256']);
    expect(shas).toEqual([tokenSha256(first), tokenSha256(second)]);
    // The agent's own log never carries the token.
    expect(f.log.lines.join('')).not.toContain(first);
    expect(f.log.lines.join('')).not.toContain(second);
    w.close();
  });

  it('fail/no token file: watch rejects ERR_NOT_READY with the reason, retries with backoff, then recovers', async () => {
    const tokenFile = path.join(f.dir, 'token');
    const clock = new ManualClock();
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      tokenFile,
      ttlMs: 3_600_000,
      clock,
      random: () => 0.5,
      backoff: { initialMs: 1000, maxMs: 8000, jitter: 0 },
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    const a = agent;
    expect(await asyncCodeOf(a.provider.watch({}))).toBe('ERR_NOT_READY');
    await until(() => clock.pending().some((p) => p.ms === 1000), 'first retry');
    expect(agent.notReadyReason()).toMatch(/token file/);
    writeFileSync(tokenFile, await f.mint('shop', 'cart'));
    clock.advance(1000); // the rotation's retry (and the bundle stream's)
    const w = await agent.provider.watch({});
    expect(w.current().svid.id.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    w.close();
  });

  it("fail/a refused token is reported with the CA's reason", async () => {
    const tokenFile = path.join(f.dir, 'token');
    writeFileSync(tokenFile, await f.mint('shop', 'cart', { audiences: ['someone-else'] }));
    agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, clock: new ManualClock(), log: f.log.log, caChannelOptions: FAST_CHANNEL });
    const a = agent;
    const err = await a.provider.watch({}).catch((e: Error) => e);
    expect((err as { code?: string }).code).toBe('ERR_NOT_READY');
    expect((err as Error).message).toMatch(/refused the credentials.*audience/i);
  });

  it('ok/follows WatchTrustBundle: a root the CA announces reaches the watch as a bundle change, leaf untouched', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    agent = await startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, clock: new ManualClock(), log: f.log.log, caChannelOptions: FAST_CHANNEL });
    const w = await agent.provider.watch({});
    const leaf = w.current().svid;
    const changes: string[][] = [];
    w.onChange((c) => changes.push([...c]));
    const other = await testCa();
    try {
      const own = (await loadCa(f.caDir)).bundle;
      // Wait until the stream is open (its first message is the bundle the agent already has).
      for (let i = 0; i < 200 && (await f.ca.server.metrics.bundleWatchers.get()).values[0]?.value !== 1; i++) await new Promise((r) => setTimeout(r, 10));
      f.ca.server.trustBundle.update([...own, other.ca.bundle[0]!]);
      await until(() => changes.length > 0, 'the bundle push');
      expect(changes).toEqual([['bundle']]);
      expect(w.current().bundles[0]!.sequence).toBe(2);
      expect(w.current().bundles[0]!.roots).toHaveLength(2);
      expect(w.current().svid).toBe(leaf);
      expect(await agent.registry.metrics()).toMatch(/castellan_agent_trust_bundle_sequence 2/);
    } finally {
      other.cleanup();
    }
    w.close();
  });

  it('fail/a CA whose certificate does not chain to --ca-bundle is never trusted', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    const other = await testCa();
    try {
      const wrongBundle = other.ca.bundle.map((c) => c.pem).join('');
      agent = await startAgent({ caAddress: f.address, caBundlePem: wrongBundle, tokenFile, clock: new ManualClock(), log: f.log.log, caChannelOptions: FAST_CHANNEL });
      const err = await agent.provider.watch({}).catch((e: Error & { code?: string }) => e);
      expect((err as { code?: string }).code).toBe('ERR_NOT_READY');
      expect((err as Error).message).toMatch(/no root in --ca-bundle verifies/);
      expect(issuedLines()).toEqual([]);
    } finally {
      other.cleanup();
    }
  });

  it('ok/--key-type rsa-2048: the workload key and leaf are RSA', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      tokenFile,
      keyType: 'rsa-2048',
      clock: new ManualClock(),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    const w = await agent.provider.watch({});
    const leaf = new X509Certificate(w.current().svid.chain[0]!);
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
    expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(w.current().svid.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    w.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { generateKeyPairSync } from 'node:crypto';
import { createSvidRequest, SpiffeId, TrustBundle, TrustDomain, X509Svid } from '../../workload-identity/index.js';
import { backoffDelay, renewalDelay } from '../../sds/backoff.js';
import { pemToDer, type SignedCertificate } from '../../sds/ca-client.js';
import { ManagedIdentity } from '../../sds/managed-identity.js';
import { RequestedTtl } from '../../sds/ttl-cap.js';
import { SecretCache } from '../../sds/secret-cache.js';
import type { BundleSet, SecretChange } from '../../sds/index.js';
import { TrustBundleState } from '../../sds/trust-bundle-state.js';
import { chainsTo } from '../../sds/workload-svid.js';
import { testCa } from '../helpers/test-ca.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

const quiet = pino({ level: 'silent' });

describe('backoff and renewal timing', () => {
  it('ok/backoff doubles from the initial delay and stops at the cap', () => {
    const o = { initialMs: 1_000, maxMs: 60_000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, o))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('ok/jitter spreads the delay by at most ±jitter and never above the cap', () => {
    const o = { initialMs: 1_000, maxMs: 5_000, jitter: 0.2 };
    for (const r of [0, 0.25, 0.5, 0.999]) {
      expect(backoffDelay(0, o, () => r)).toBeGreaterThanOrEqual(800);
      expect(backoffDelay(0, o, () => r)).toBeLessThanOrEqual(1_200);
      expect(backoffDelay(10, o, () => r)).toBeLessThanOrEqual(5_000);
    }
    expect(backoffDelay(0, o, () => 0)).toBe(800);
  });

  it('ok/renewal at 50 % ± 10 % of the lifetime by default', () => {
    expect(renewalDelay(3_600_000, {}, () => 0.5)).toBe(1_800_000);
    expect(renewalDelay(3_600_000, {}, () => 0)).toBe(1_440_000);
    expect(renewalDelay(3_600_000, {}, () => 0.9999)).toBeLessThanOrEqual(2_160_000);
    expect(renewalDelay(60_000, { fraction: 0.01, jitter: 0 })).toBe(600);
  });
});

/** Two real SVIDs of one identity (leaves 1 and 2), issued by a test CA. */
const leaves: X509Svid[] = [];
beforeAll(async () => {
  const t = await testCa({ trustDomain: 'td' });
  try {
    const id = SpiffeId.parse('spiffe://td/ns/a/sa/b');
    for (let i = 0; i < 2; i++) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const c = t.issuer.issue(id, await createSvidRequest(privateKey, id), { ttlMs: 3_600_000 });
      leaves.push(X509Svid.of(pemToDer(c.leafPem + c.chainPem.slice(0, -1).join('')), privateKey));
    }
  } finally {
    t.cleanup();
  }
});
const leaf = (n: 1 | 2): X509Svid => leaves[n - 1]!;
const bundlesAt = (sequence: number): BundleSet => ({ own: TrustBundle.of({ trustDomain: TrustDomain.of('td'), sequence, roots: [] }), federated: [] });

describe('SecretCache', () => {
  it('ok/bundle and leaf changing together: bundle first, then svid, each with its snapshot in place', () => {
    const cache = new SecretCache();
    cache.update({ svid: leaf(1), bundles: bundlesAt(1) });
    const w = cache.watch();
    const seen: [string[], string, number][] = [];
    w.onChange((c) => seen.push([[...c], w.current().svid.serialHex, w.current().bundles[0]!.sequence]));
    cache.update({ svid: leaf(2), bundles: bundlesAt(2) });
    expect(seen).toEqual([
      [['bundle'], leaf(1).serialHex, 2],
      [['svid'], leaf(2).serialHex, 2],
    ]);
    cache.update({ bundles: bundlesAt(2) }); // the same bundle again: no change
    expect(seen).toHaveLength(2);
  });

  it('ok/close is idempotent and stops notifications; the last close reports idle', () => {
    let idle = 0;
    const cache = new SecretCache(() => idle++);
    cache.update({ svid: leaf(1), bundles: bundlesAt(1) });
    const a = cache.watch();
    const b = cache.watch();
    let calls = 0;
    a.onChange(() => calls++);
    a.close();
    a.close();
    expect(idle).toBe(0);
    cache.update({ svid: leaf(2) });
    expect(calls).toBe(0);
    b.close();
    expect(idle).toBe(1);
    expect(cache.watchers).toBe(0);
  });
});

describe('SecretCache listener failures', () => {
  it('fail/a throwing listener is logged at error and the other listeners still get the change', () => {
    const logged: unknown[][] = [];
    const cache = new SecretCache(undefined, { error: (...args: unknown[]) => logged.push(args) } as never);
    cache.update({ svid: leaf(1), bundles: bundlesAt(1) });
    const bad = cache.watch();
    const good = cache.watch();
    bad.onChange(() => {
      throw new Error('push failed');
    });
    let seen = 0;
    good.onChange(() => seen++);
    cache.update({ svid: leaf(2) });
    expect(seen).toBe(1);
    expect(logged).toHaveLength(1);
    expect(String(logged[0]![1])).toMatch(/failed to take a secret change/);
    expect((logged[0]![0] as { err: Error }).err.message).toBe('push failed');
  });
});

describe('a root rotation seen on the bundle stream', () => {
  let old: Awaited<ReturnType<typeof testCa>>;
  let next: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    old = await testCa();
    next = await testCa();
  });
  afterAll(() => {
    old.cleanup();
    next.cleanup();
  });

  const bundleOf = (ca: typeof old, sequence: number): TrustBundle =>
    TrustBundle.of({ trustDomain: TrustDomain.of('cluster.local'), sequence, roots: ca.ca.bundle.map((c) => c.der) });
  const setOf = (own: TrustBundle): BundleSet => ({ own, federated: [] });
  const signer =
    (state: { ca: typeof old; sequence: number }) =>
    async (csrDer: Buffer, ttlSeconds: number): Promise<SignedCertificate> => {
      const c = state.ca.issuer.issue(SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart'), csrDer, { ttlMs: ttlSeconds * 1000 });
      const chainPem = c.leafPem + c.chainPem.slice(0, -1).join('');
      return {
        id: c.spiffeId,
        chainDer: pemToDer(chainPem),
        chainPem,
        serialHex: c.serialHex,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        bundle: bundleOf(state.ca, state.sequence),
      };
    };

  it('ok/pushes the new bundle first, then a fresh leaf under the new root', async () => {
    const state = { ca: old, sequence: 1 };
    const bundles = new TrustBundleState();
    const clock = new ManualClock();
    const m = new ManagedIdentity(bundles, { keyType: 'ec-p256', ttl: new RequestedTtl(3_600_000), clock, log: quiet, sign: signer(state) });
    m.rotation.start();
    const w = await m.watch();
    const first = w.current();
    expect(chainsTo(first.svid, first.bundles[0]!)).toBe(true);
    const seen: ReadonlySet<SecretChange>[] = [];
    w.onChange((c) => seen.push(c));

    // A bundle that keeps the old root (the new root is announced first, docs/architecture.md §6): only ROOTCA changes.
    const both = TrustBundle.of({ trustDomain: TrustDomain.of('cluster.local'), sequence: 2, roots: [...bundleOf(old, 2).roots, ...bundleOf(next, 2).roots] });
    bundles.offer(setOf(both), 'stream');
    expect(seen.map((c) => [...c])).toEqual([['bundle']]);
    expect(m.rotation.attempting).toBe(false);

    // The old root leaves the bundle: ROOTCA first, then a fresh leaf from the new CA.
    state.ca = next;
    state.sequence = 3;
    bundles.offer(setOf(bundleOf(next, 3)), 'stream');
    expect(seen.map((c) => [...c])).toEqual([['bundle'], ['bundle']]);
    await until(() => seen.length === 3, 'the fresh leaf');
    expect(seen.map((c) => [...c])).toEqual([['bundle'], ['bundle'], ['svid']]);
    const now = w.current();
    expect(now.bundles[0]!.sequence).toBe(3);
    expect(now.svid.serialHex).not.toBe(first.svid.serialHex);
    expect(chainsTo(now.svid, now.bundles[0]!)).toBe(true);
    expect(chainsTo(first.svid, now.bundles[0]!)).toBe(false);
    m.stop();
    w.close();
  });

  it('ok/a Sign answer carrying an older bundle sequence does not replace the streamed bundle', () => {
    const bundles = new TrustBundleState();
    expect(bundles.offer(setOf(bundleOf(next, 5)), 'stream')).toBe(true);
    expect(bundles.offer(setOf(bundleOf(old, 4)), 'sign')).toBe(false);
    expect(bundles.own!.sequence).toBe(5);
    expect(bundles.offer(setOf(bundleOf(old, 6)), 'sign')).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificatesFromPem, generateKey } from '../../ca/index.js';
import { ClientCertificateAuthenticator, SpiffeId, TrustDomain, createSvidRequest, type CallerCredentials } from '../../workload-identity/index.js';
import { testCa } from '../helpers/test-ca.js';
import { asyncCodeOf } from '../helpers/error-code.js';

type TestCa = Awaited<ReturnType<typeof testCa>>;

/** A leaf for `id` and the chain a workload would present: leaf, then intermediates (DER), root last. */
async function issue(ca: TestCa, id: string): Promise<{ leaf: Buffer; intermediates: Buffer[]; root: Buffer; notAfter: Date }> {
  const spiffeId = SpiffeId.parse(id);
  const cert = ca.issuer.issue(spiffeId, await createSvidRequest(generateKey('ec-p256').privateKey, spiffeId));
  const above = cert.chainPem.flatMap((pem) => certificatesFromPem(pem, { code: 'ERR_CA_DIR', what: 'test chain' })).map((c) => c.der);
  return { leaf: cert.leafDer, intermediates: above.slice(0, -1), root: above[above.length - 1]!, notAfter: cert.notAfter };
}

describe('ClientCertificateAuthenticator (renewal by certificate)', () => {
  let ours: TestCa;
  let stranger: TestCa;
  let otherDomain: TestCa;
  const td = TrustDomain.of('cluster.local');
  let bundle: () => readonly Uint8Array[];
  const auth = (o: { now?: () => Date; bundle?: () => readonly Uint8Array[] } = {}) =>
    new ClientCertificateAuthenticator({ trustDomain: td, bundle: o.bundle ?? bundle, ...(o.now ? { now: o.now } : {}) });

  beforeAll(async () => {
    [ours, stranger, otherDomain] = await Promise.all([testCa(), testCa(), testCa({ trustDomain: 'partner.example' })]);
    bundle = () => ours.ca.bundle.map((c) => c.der);
  });
  afterAll(() => {
    for (const c of [ours, stranger, otherDomain]) c.cleanup();
  });

  it('ok/a leaf and its intermediate chain to a root of the bundle', async () => {
    const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
    const caller = await auth().authenticate({ peerCertificates: [c.leaf, ...c.intermediates] });
    expect(caller.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    expect(caller).toMatchObject({ namespace: 'shop', serviceAccount: 'cart', authenticator: 'client-certificate' });
    expect(caller.tokenSha256).toBeUndefined();
  });

  it('ok/the root may be sent too', async () => {
    const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
    await expect(auth().authenticate({ peerCertificates: [c.leaf, ...c.intermediates, c.root] })).resolves.toMatchObject({
      namespace: 'shop',
      serviceAccount: 'cart',
      authenticator: 'client-certificate',
    });
  });

  it('ok/the bundle is asked at every use (a root added later is trusted at once)', async () => {
    let roots: Uint8Array[] = bundle() as Uint8Array[];
    const a = auth({ bundle: () => roots });
    const c = await issue(stranger, 'spiffe://cluster.local/ns/shop/sa/cart');
    expect(await asyncCodeOf(a.authenticate({ peerCertificates: [c.leaf, ...c.intermediates] }))).toBe('ERR_CLIENT_CERT_INVALID');
    roots = [...roots, ...stranger.ca.bundle.map((r) => r.der)];
    await expect(a.authenticate({ peerCertificates: [c.leaf, ...c.intermediates] })).resolves.toMatchObject({
      namespace: 'shop',
      serviceAccount: 'cart',
      authenticator: 'client-certificate',
    });
  });

  const fail: Array<[name: string, credentials: () => Promise<CallerCredentials>, now?: (() => Promise<Date>) | undefined, bundle?: () => readonly Uint8Array[]]> = [
    ['fail/no certificate', async () => ({})],
    ['fail/not DER', async () => ({ peerCertificates: [Buffer.from('not a certificate')] })],
    [
      'fail/expired (clock past notAfter)',
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
        return { peerCertificates: [c.leaf, ...c.intermediates] };
      },
      async () => new Date(Date.now() + 25 * 3_600_000),
    ],
    [
      'fail/not yet valid (clock before notBefore)',
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
        return { peerCertificates: [c.leaf, ...c.intermediates] };
      },
      async () => new Date(Date.now() - 3_600_000),
    ],
    [
      'fail/chain from another CA',
      async () => {
        const c = await issue(stranger, 'spiffe://cluster.local/ns/shop/sa/cart');
        return { peerCertificates: [c.leaf, ...c.intermediates] };
      },
    ],
    [
      "fail/our leaf with another CA's intermediate",
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
        const s = await issue(stranger, 'spiffe://cluster.local/ns/shop/sa/cart');
        return { peerCertificates: [c.leaf, ...s.intermediates] };
      },
    ],
    [
      'fail/leaf from another trust domain, even when its root is trusted',
      async () => {
        const c = await issue(otherDomain, 'spiffe://partner.example/ns/shop/sa/cart');
        return { peerCertificates: [c.leaf, ...c.intermediates] };
      },
      undefined,
      () => [...ours.ca.bundle, ...otherDomain.ca.bundle].map((c) => c.der),
    ],
    ['fail/intermediate missing', async () => ({ peerCertificates: [(await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart')).leaf] })],
    [
      'fail/leaf signature tampered',
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
        const leaf = Buffer.from(c.leaf);
        leaf[leaf.length - 3]! ^= 0x01;
        return { peerCertificates: [leaf, ...c.intermediates] };
      },
    ],
    [
      'fail/an intermediate presented as the leaf',
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
        return { peerCertificates: [...c.intermediates] };
      },
    ],
    [
      'fail/a workload ID that is not /ns/<ns>/sa/<sa>',
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/billing/api');
        return { peerCertificates: [c.leaf, ...c.intermediates] };
      },
    ],
    [
      'fail/no trusted roots at all',
      async () => {
        const c = await issue(ours, 'spiffe://cluster.local/ns/shop/sa/cart');
        return { peerCertificates: [c.leaf, ...c.intermediates] };
      },
      undefined,
      () => [],
    ],
  ];
  for (const [name, credentials, now, b] of fail) {
    it(name, async () => {
      const at = now ? await now() : undefined;
      const a = auth({ ...(at ? { now: () => at } : {}), ...(b ? { bundle: b } : {}) });
      expect(await asyncCodeOf(a.authenticate(await credentials()))).toBe('ERR_CLIENT_CERT_INVALID');
    });
  }

  it('fail/TypeError for unusable options', () => {
    expect(() => new ClientCertificateAuthenticator({ trustDomain: td, bundle: [] as unknown as () => Uint8Array[] })).toThrow(TypeError);
    expect(() => new ClientCertificateAuthenticator({ trustDomain: td, bundle, maxChainLength: 0 })).toThrow(TypeError);
  });
});

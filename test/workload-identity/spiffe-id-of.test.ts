import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SpiffeId, spiffeIdOf, uriSansOf } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { testCa } from '../helpers/test-ca.js';

describe('spiffeIdOf / uriSansOf', () => {
  it('ok/the one URI SAN of an SVID, as a SpiffeId; a CA certificate names its trust domain', async () => {
    const ca = await testCa();
    try {
      const leaf = ca.issuer.issue(SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart'), (await testCsr()).pem);
      expect(spiffeIdOf(new X509Certificate(leaf.leafPem))?.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
      const issuer = spiffeIdOf(new X509Certificate(ca.ca.active.issuer.der));
      expect(issuer?.toString()).toBe('spiffe://cluster.local');
      expect(issuer?.trustDomain.name).toBe('cluster.local');
    } finally {
      ca.cleanup();
    }
  });

  const cases: [string, string | undefined, string[], string | undefined][] = [
    ['ok/URI among other SANs', 'DNS:a.b, URI:spiffe://td/x, IP Address:127.0.0.1', ['spiffe://td/x'], 'spiffe://td/x'],
    ['fail/two URI SANs: no single identity', 'URI:spiffe://td/a, URI:spiffe://td/b', ['spiffe://td/a', 'spiffe://td/b'], undefined],
    ['fail/a URI that is no SPIFFE ID', 'URI:https://td/a', ['https://td/a'], undefined],
    ['fail/no SAN at all', undefined, [], undefined],
  ];
  for (const [name, san, uris, id] of cases) {
    it(name, () => {
      expect(uriSansOf(san)).toEqual(uris);
      expect(spiffeIdOf({ subjectaltname: san ?? '' })?.toString()).toBe(id);
    });
  }
});

import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustBundle, TrustDomain } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';
import { testCa } from '../helpers/test-ca.js';

describe('TrustBundle', () => {
  let ca: Awaited<ReturnType<typeof testCa>>;
  beforeAll(async () => {
    ca = await testCa({ trustDomain: 'example.org' });
  });
  afterAll(() => ca.cleanup());
  const td = TrustDomain.of('example.org');

  it("ok/a trust domain's roots with their PEM, its sequence; JWT keys unknown until given", () => {
    const roots = ca.ca.bundle.map((c) => c.der);
    const b = TrustBundle.of({ trustDomain: td, roots, sequence: 7 });
    expect(b.trustDomain.equals(td)).toBe(true);
    expect(b.sequence).toBe(7);
    expect(b.roots.map((d) => d.toString('hex'))).toEqual(roots.map((d) => Buffer.from(d).toString('hex')));
    expect(b.rootsPem).toBe(ca.ca.bundle.map((c) => c.pem).join(''));
    expect(b.jwtAuthorities).toBeUndefined();
    expect(Object.isFrozen(b)).toBe(true);
    expect(JSON.parse(JSON.stringify(b))).toEqual({ trustDomain: 'example.org', sequence: 7, roots: roots.length });

    const key = { keyId: 'k1', publicKey: createPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' })) };
    const withKeys = b.withJwtAuthorities([key]);
    expect(withKeys.jwtAuthorities?.map((a) => a.keyId)).toEqual(['k1']);
    expect([withKeys.sequence, withKeys.rootsPem]).toEqual([7, b.rootsPem]);
    expect(b.jwtAuthorities).toBeUndefined();
  });

  it('ok/no roots (a domain that only issues JWT-SVIDs) and sequence 0 by default', () => {
    const b = TrustBundle.of({ trustDomain: td, roots: [], jwtAuthorities: [] });
    expect([b.roots.length, b.rootsPem, b.sequence, b.jwtAuthorities]).toEqual([0, '', 0, []]);
  });

  it('fail/roots that are no certificates, a bad sequence: ERR_BUNDLE_MALFORMED; a string trust domain: TypeError', () => {
    const root = ca.ca.bundle[0]!.der;
    const cases: [string, () => unknown][] = [
      ['fail/a root that is no DER certificate', () => TrustBundle.of({ trustDomain: td, roots: [root, Buffer.from('garbage')] })],
      ['fail/a negative sequence', () => TrustBundle.of({ trustDomain: td, roots: [root], sequence: -1 })],
      ['fail/a sequence that is no integer', () => TrustBundle.of({ trustDomain: td, roots: [root], sequence: Number.NaN })],
    ];
    for (const [name, fn] of cases) expect([name, codeOf(fn)]).toEqual([name, 'ERR_BUNDLE_MALFORMED']);
    expect(() => TrustBundle.of({ trustDomain: 'example.org' as unknown as TrustDomain, roots: [root] })).toThrow(TypeError);
  });
});

// SPIFFE bundles (SPIFFE Trust Domain and Bundle §4, X509-SVID §6, JWT-SVID §6): round trip, what is
// ignored, what is refused.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bundleDigest, formatSpiffeBundle, jwkThumbprint, MAX_BUNDLE_BYTES, parseSpiffeBundle, TrustDomain } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';
import { testCa } from '../helpers/test-ca.js';

const TD = TrustDomain.of('cluster.local');

async function sample() {
  const t = await testCa();
  t.cleanup();
  const jwt = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  return {
    root: t.ca.bundle[0]!.der,
    bundle: {
      x509Authorities: [t.ca.bundle[0]!.der],
      jwtAuthorities: [
        { keyId: jwkThumbprint(jwt), publicKey: jwt },
        { keyId: 'rsa-1', publicKey: rsa },
      ],
      sequence: 7,
      refreshHintSeconds: 300,
    },
  };
}

describe('SPIFFE bundle', () => {
  it('ok/format then parse gives the same roots, JWT keys, sequence and hint; x509 entries have x5c and no kid', async () => {
    const { bundle } = await sample();
    const text = formatSpiffeBundle(bundle);
    const doc = JSON.parse(text) as { keys: Record<string, unknown>[]; spiffe_sequence: number; spiffe_refresh_hint: number };
    expect(doc.spiffe_sequence).toBe(7);
    expect(doc.spiffe_refresh_hint).toBe(300);
    const x = doc.keys.find((k) => k['use'] === 'x509-svid')!;
    expect(x['kid']).toBeUndefined();
    expect(x['x5c']).toHaveLength(1);
    expect(doc.keys.filter((k) => k['use'] === 'jwt-svid').map((k) => k['kid'])).toEqual([bundle.jwtAuthorities[0]!.keyId, 'rsa-1']);
    const back = parseSpiffeBundle(TD, text);
    expect(back.sequence).toBe(7);
    expect(back.refreshHintSeconds).toBe(300);
    expect(bundleDigest(back)).toBe(bundleDigest(bundle));
  });

  it('ok/unknown use, missing use and unknown kty are ignored (§4.2.1, §4.2.2)', async () => {
    const { bundle } = await sample();
    const doc = JSON.parse(formatSpiffeBundle(bundle)) as { keys: Record<string, unknown>[] };
    doc.keys.push({ use: 'wit-svid', kty: 'EC', kid: 'w' }, { kty: 'EC', kid: 'no-use' }, { use: 'jwt-svid', kty: 'OKP', kid: 'ed', crv: 'Ed25519', x: 'AA' });
    const back = parseSpiffeBundle(TD, JSON.stringify(doc));
    expect(back.jwtAuthorities.map((a) => a.keyId)).toEqual([bundle.jwtAuthorities[0]!.keyId, 'rsa-1']);
  });

  it('fail/garbage, no keys array, bad sequence, two x5c certificates, a jwt key without kid, duplicate kid → ERR_BUNDLE_MALFORMED', async () => {
    const { bundle, root } = await sample();
    const doc = () => JSON.parse(formatSpiffeBundle(bundle)) as { keys: Record<string, unknown>[]; spiffe_sequence?: unknown };
    expect(codeOf(() => parseSpiffeBundle(TD, '<html>'))).toBe('ERR_BUNDLE_MALFORMED');
    expect(codeOf(() => parseSpiffeBundle(TD, '[]'))).toBe('ERR_BUNDLE_MALFORMED');
    expect(codeOf(() => parseSpiffeBundle(TD, '{"spiffe_sequence":1}'))).toBe('ERR_BUNDLE_MALFORMED');
    const seq = doc();
    seq.spiffe_sequence = -1;
    expect(codeOf(() => parseSpiffeBundle(TD, JSON.stringify(seq)))).toBe('ERR_BUNDLE_MALFORMED');
    const two = doc();
    two.keys[0]!['x5c'] = [root.toString('base64'), root.toString('base64')];
    expect(codeOf(() => parseSpiffeBundle(TD, JSON.stringify(two)))).toBe('ERR_BUNDLE_MALFORMED');
    const noKid = doc();
    delete noKid.keys[1]!['kid'];
    expect(codeOf(() => parseSpiffeBundle(TD, JSON.stringify(noKid)))).toBe('ERR_BUNDLE_MALFORMED');
    const dup = doc();
    dup.keys[2]!['kid'] = dup.keys[1]!['kid'];
    expect(codeOf(() => parseSpiffeBundle(TD, JSON.stringify(dup)))).toBe('ERR_BUNDLE_MALFORMED');
  });

  it('fail/a root of another trust domain → ERR_BUNDLE_TRUST_DOMAIN; no usable key → ERR_BUNDLE_NO_KEYS; over 1 MiB → ERR_BUNDLE_TOO_LARGE', async () => {
    const { bundle } = await sample();
    expect(codeOf(() => parseSpiffeBundle(TrustDomain.of('other.test'), formatSpiffeBundle(bundle)))).toBe('ERR_BUNDLE_TRUST_DOMAIN');
    expect(codeOf(() => parseSpiffeBundle(TD, '{"keys":[]}'))).toBe('ERR_BUNDLE_NO_KEYS');
    expect(parseSpiffeBundle(TD, '{"keys":[]}', { allowEmpty: true }).x509Authorities).toEqual([]);
    expect(codeOf(() => parseSpiffeBundle(TD, ' '.repeat(MAX_BUNDLE_BYTES + 1)))).toBe('ERR_BUNDLE_TOO_LARGE');
  });

  it('ok/a private JWK member never makes the bundle key private', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const b = parseSpiffeBundle(TD, JSON.stringify({ keys: [{ use: 'jwt-svid', kid: 'k', ...jwk }] }));
    expect(b.jwtAuthorities[0]!.publicKey.type).toBe('public');
  });
});

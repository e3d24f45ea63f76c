// JWT-SVID validation (JWT-SVID §2-§4, Appendix A) with tokens signed here by node:crypto and by jose.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwsSigningInput, jwkThumbprint, type TrustDomain, validateJwtSvid, type JwtAuthority } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kid = jwkThumbprint(publicKey);
const keys: JwtAuthority[] = [{ keyId: kid, publicKey }];
const keysFor = (td: TrustDomain) => (td.name === 'example.org' ? keys : undefined);
const NOW = new Date('2030-01-01T00:00:00Z');
const iat = NOW.getTime() / 1000;

function token(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256', kid, typ: 'JWT' }, key: KeyObject = privateKey): string {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b(header)}.${b(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}
const good = { sub: 'spiffe://example.org/web', aud: ['api'], exp: iat + 300, iat };

describe('JWT-SVID validation', () => {
  it('ok/a token signed by jose with the bundle key validates; aud as a string too', async () => {
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid })
      .setSubject('spiffe://example.org/web')
      .setAudience('api')
      .setExpirationTime(iat + 60)
      .setIssuedAt(iat)
      .sign(privateKey);
    const v = validateJwtSvid(t, 'api', keysFor, NOW);
    expect(v.spiffeId.toString()).toBe('spiffe://example.org/web');
    expect(v.audience).toEqual(['api']);
    expect(jwsSigningInput({ alg: 'ES256', kid }, { a: 1 }).split('.')).toHaveLength(2);
  });

  const cases: [string, () => string, string, string?][] = [
    ['fail/wrong audience', () => token(good), 'ERR_JWT_SVID_AUDIENCE', 'other'],
    ['fail/no aud', () => token({ ...good, aud: undefined }), 'ERR_JWT_SVID_AUDIENCE'],
    ['fail/expired', () => token({ ...good, exp: iat - 1 }), 'ERR_JWT_SVID_EXPIRED'],
    ['fail/no exp', () => token({ ...good, exp: undefined }), 'ERR_JWT_SVID_EXPIRED'],
    ['fail/nbf two minutes ahead', () => token({ ...good, nbf: iat + 120 }), 'ERR_JWT_SVID_NOT_YET_VALID'],
    ['fail/sub is not a SPIFFE ID', () => token({ ...good, sub: 'https://example.org/web' }), 'ERR_JWT_SVID_SUBJECT'],
    ['fail/no sub', () => token({ ...good, sub: undefined }), 'ERR_JWT_SVID_SUBJECT'],
    ['fail/foreign trust domain', () => token({ ...good, sub: 'spiffe://other.test/web' }), 'ERR_JWT_SVID_NO_BUNDLE'],
    ['fail/unknown kid', () => token(good, { alg: 'ES256', kid: 'nope' }), 'ERR_JWT_SVID_UNKNOWN_KEY'],
    ['fail/no kid', () => token(good, { alg: 'ES256' }), 'ERR_JWT_SVID_HEADER'],
    ['fail/extra header (jku)', () => token(good, { alg: 'ES256', kid, jku: 'https://evil' }), 'ERR_JWT_SVID_HEADER'],
    ['fail/typ JWE', () => token(good, { alg: 'ES256', kid, typ: 'JWE' }), 'ERR_JWT_SVID_HEADER'],
    ['fail/alg none', () => `${token(good, { alg: 'none', kid }).split('.').slice(0, 2).join('.')}.x`, 'ERR_JWT_SVID_ALGORITHM'],
    ['fail/alg HS256', () => token(good, { alg: 'HS256', kid }), 'ERR_JWT_SVID_ALGORITHM'],
    ['fail/ES384 claimed with a P-256 key', () => token(good, { alg: 'ES384', kid }), 'ERR_JWT_SVID_SIGNATURE'],
    ['fail/signed by another key', () => token(good, undefined, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), 'ERR_JWT_SVID_SIGNATURE'],
    ['fail/JWS JSON serialization', () => JSON.stringify({ payload: 'x' }), 'ERR_JWT_SVID_MALFORMED'],
    ['fail/five parts (JWE)', () => 'a.b.c.d.e', 'ERR_JWT_SVID_MALFORMED'],
    ['fail/70 KB', () => 'a'.repeat(70_000), 'ERR_JWT_SVID_MALFORMED'],
  ];
  for (const [name, make, code, audience] of cases) {
    it(`${name} → ${code}`, () => {
      expect(codeOf(() => validateJwtSvid(make(), audience ?? 'api', keysFor, NOW))).toBe(code);
    });
  }
});

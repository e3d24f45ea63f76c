// JWT-SVID signing keys and issuance (docs/jwt-svid.md): one key per authority slot, published with the
// slot, signing once published long enough; tokens checked by our validator and by `jose` (an independent
// JOSE implementation).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { activateRoot, AUTHORITY_FILES, authorityDir, loadCa, prepareRoot, retireRoot, rotateIntermediate, type CaDirectory, type KeyType } from '../../ca/index.js';
import { checkAudiences, JwtSvidIssuer } from '../../ca/jwt-svid-issuer.js';
import { jwtSigningKey, publishedJwtAuthorities } from '../../ca/jwt-authorities.js';
import { jwtBundleJwks, SpiffeId, validateJwtSvid } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';
import { testCa } from '../helpers/test-ca.js';

const ID = SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart');
const MIN = 60_000;
const noAgents = { known: true, live: [] };

function issuerAt(ca: () => CaDirectory, now: Date, publishLeadMs = 10 * MIN) {
  return new JwtSvidIssuer({ ca, now: () => now, publishLeadMs });
}

describe('JWT-SVID issuance', () => {
  for (const [keyType, alg] of [
    ['ec-p256', 'ES256'],
    ['ec-p384', 'ES384'],
    ['rsa-2048', 'RS256'],
  ] as [KeyType, string][]) {
    it(`ok/${keyType}: ${alg}, kid = the slot key's thumbprint; verifies with our validator and with jose against the published JWKS`, async () => {
      const t = await testCa({ keyType });
      try {
        const ca = t.ca;
        expect(ca.active.jwtKey).toBeDefined();
        const now = new Date();
        const jwt = issuerAt(() => ca, now).issue(ID, ['spiffe://cluster.local/ns/shop/sa/api', 'billing']);
        expect(jwt.algorithm).toBe(alg);
        expect(jwt.keyId).toBe(ca.active.jwtKey!.keyId);
        expect(jwt.expiresAt.getTime() - jwt.issuedAt.getTime()).toBe(5 * MIN);
        const keys = publishedJwtAuthorities(ca);
        const v = validateJwtSvid(jwt.token, 'billing', (td) => (td.name === 'cluster.local' ? keys : undefined), now);
        expect(v.spiffeId.toString()).toBe(ID.toString());
        // jose takes only keys whose `use` is absent or "sig"; a legacy validator fed the Workload API's
        // JWKS is handed the keys without SPIFFE's use value (SPIFFE Workload API §6.3).
        const jwks = JSON.parse(jwtBundleJwks(keys)) as { keys: Record<string, unknown>[] };
        for (const k of jwks.keys) delete k['use'];
        const r = await jwtVerify(jwt.token, createLocalJWKSet(jwks as unknown as Parameters<typeof createLocalJWKSet>[0]), {
          audience: 'billing',
          algorithms: [alg],
          currentDate: now,
        });
        expect(r.payload.sub).toBe(ID.toString());
        expect(r.protectedHeader).toEqual({ alg, kid: jwt.keyId, typ: 'JWT' });
      } finally {
        t.cleanup();
      }
    });
  }

  it('fail/audiences: none, 17, 513 bytes, control characters → ERR_JWT_AUDIENCE; duplicates dropped; TTL above max → ERR_TTL_TOO_LONG', async () => {
    const t = await testCa();
    try {
      const issuer = issuerAt(() => t.ca, new Date());
      expect(codeOf(() => issuer.issue(ID, []))).toBe('ERR_JWT_AUDIENCE');
      expect(
        codeOf(() =>
          issuer.issue(
            ID,
            Array.from({ length: 17 }, (_, i) => `a${i}`),
          ),
        ),
      ).toBe('ERR_JWT_AUDIENCE');
      expect(codeOf(() => issuer.issue(ID, ['x'.repeat(513)]))).toBe('ERR_JWT_AUDIENCE');
      expect(codeOf(() => issuer.issue(ID, ['a\nb']))).toBe('ERR_JWT_AUDIENCE');
      expect(codeOf(() => issuer.issue(ID, [42]))).toBe('ERR_JWT_AUDIENCE');
      expect(checkAudiences(['a', 'b', 'a'])).toEqual(['a', 'b']);
      expect(codeOf(() => issuer.issue(ID, ['a'], 2 * 3_600_000))).toBe('ERR_TTL_TOO_LONG');
      expect(codeOf(() => issuer.issue(ID, ['a'], -5))).toBe('ERR_TTL_INVALID');
      expect(issuer.issue(ID, ['a'], 30_000).expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(30_000);
    } finally {
      t.cleanup();
    }
  });

  it('ok/root rotation: the prepared key is published first, signs only after activation and the publish lead, and leaves the bundle with root retire', async () => {
    const t0 = new Date('2030-01-01T00:00:00Z');
    const t = await testCa({ now: t0 });
    try {
      const dir = path.join(t.dir, 'ca');
      let ca = t.ca;
      const first = ca.active.jwtKey!.keyId;
      ca = (await prepareRoot({ store: dir, now: new Date(t0.getTime() + MIN) })).ca;
      const second = ca.prepared!.jwtKey!.keyId;
      expect(second).not.toBe(first);
      // Published with the prepared root before it signs anything.
      expect(publishedJwtAuthorities(ca).map((k) => k.keyId)).toEqual([first, second]);
      expect(issuerAt(() => ca, new Date(t0.getTime() + 30 * MIN)).issue(ID, ['a']).keyId).toBe(first);
      // Activated 2 minutes after it was prepared: the old key signs until it is 10 minutes old.
      ca = (await activateRoot({ store: dir, now: new Date(t0.getTime() + 3 * MIN) }, { agents: noAgents, force: true, reissueSpreadSeconds: 60 })).ca;
      expect(issuerAt(() => ca, new Date(t0.getTime() + 4 * MIN)).issue(ID, ['a']).keyId).toBe(first);
      expect(issuerAt(() => ca, new Date(t0.getTime() + 11 * MIN)).issue(ID, ['a']).keyId).toBe(second);
      ca = (await retireRoot({ store: dir, now: new Date(t0.getTime() + 90 * MIN) }, { liveLeaves: async () => ({ count: 0 }) })).ca;
      expect(publishedJwtAuthorities(ca).map((k) => k.keyId)).toEqual([second]);
      expect(issuerAt(() => ca, new Date(t0.getTime() + 91 * MIN)).issue(ID, ['a']).keyId).toBe(second);
    } finally {
      t.cleanup();
    }
  });

  it('ok/intermediate rotation: the new slot brings a new key; the retired one signs until the new one was published for the lead', async () => {
    const t0 = new Date('2030-01-01T00:00:00Z');
    const t = await testCa({ now: t0 });
    try {
      const dir = path.join(t.dir, 'ca');
      const first = t.ca.active.jwtKey!.keyId;
      const ca = (await rotateIntermediate({ store: dir, now: new Date(t0.getTime() + MIN) }, { reason: 'test' })).ca;
      const second = ca.active.jwtKey!.keyId;
      expect(publishedJwtAuthorities(ca).map((k) => k.keyId)).toEqual([first, second]);
      const before = jwtSigningKey(ca, new Date(t0.getTime() + 5 * MIN), 10 * MIN);
      expect(before.ok && before.keyId).toBe(first);
      const after = jwtSigningKey(ca, new Date(t0.getTime() + 11 * MIN), 10 * MIN);
      expect(after.ok && after.keyId).toBe(second);
    } finally {
      t.cleanup();
    }
  });

  it('fail/a CA made before JWT-SVIDs (no jwt-key.pem) → ERR_JWT_NO_KEY naming the way out; its next authority brings a key that signs at once', async () => {
    const t = await testCa();
    try {
      const dir = path.join(t.dir, 'ca');
      rmSync(path.join(authorityDir(dir, 1), AUTHORITY_FILES.jwtKey));
      let ca = await loadCa(dir);
      expect(ca.active.jwtKey).toBeUndefined();
      expect(publishedJwtAuthorities(ca)).toEqual([]);
      const issuer = issuerAt(() => ca, new Date());
      let message = '';
      expect(
        codeOf(() => {
          try {
            issuer.issue(ID, ['a']);
          } catch (err) {
            message = (err as Error).message;
            throw err;
          }
        }),
      ).toBe('ERR_JWT_NO_KEY');
      expect(message).toContain('castellan root prepare');
      ca = (await rotateIntermediate({ store: dir }, { reason: 'test' })).ca;
      // The first JWT key this CA ever has: nobody holds an older bundle to be surprised.
      expect(issuer.issue(ID, ['a']).keyId).toBe(ca.active.jwtKey!.keyId);
    } finally {
      t.cleanup();
    }
  });

  it('fail/a new key not yet published long enough and no older key in the bundle → ERR_JWT_KEY_NOT_PUBLISHED with the time it signs', async () => {
    const t0 = new Date('2030-01-01T00:00:00Z');
    const t = await testCa({ now: t0 });
    try {
      const dir = path.join(t.dir, 'ca');
      await prepareRoot({ store: dir, now: new Date(t0.getTime() + MIN) });
      await activateRoot({ store: dir, now: new Date(t0.getTime() + 2 * MIN) }, { agents: noAgents, force: true, reissueSpreadSeconds: 60 });
      const ca = (await retireRoot({ store: dir, now: new Date(t0.getTime() + 3 * MIN) }, { liveLeaves: async () => ({ count: 0 }), force: true })).ca;
      const k = jwtSigningKey(ca, new Date(t0.getTime() + 4 * MIN), 10 * MIN);
      expect(k.ok).toBe(false);
      expect(!k.ok && k.reason).toBe('not-published');
      expect(!k.ok && k.usableAt?.toISOString()).toBe(new Date(t0.getTime() + 11 * MIN).toISOString());
      expect(codeOf(() => issuerAt(() => ca, new Date(t0.getTime() + 4 * MIN)).issue(ID, ['a']))).toBe('ERR_JWT_KEY_NOT_PUBLISHED');
    } finally {
      t.cleanup();
    }
  });
});

import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenReviewAuthenticator, TrustDomain } from '../../workload-identity/index.js';
import { asyncOutcomeOf, expectCoded, fuzzParams } from '../helpers/fuzz.js';
import { tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';

/**
 * Fuzzing of the TokenReview authenticator (workload-identity/token-review.ts) against the Kubernetes API
 * stand-in (docs/fuzzing.md): its local pre-check decodes tokens it has not verified, so damaged and
 * random tokens must be refused there or by the API with a code, and nothing but a token the API
 * authenticated becomes a caller.
 */

/** Every refusal of the caller's token (a static key set and a reachable API: no ERR_AUTH_BACKEND_*). */
const REFUSALS = /^ERR_TOKEN_[A-Z_]+$/;

describe('TokenReview authenticator fuzzing (workload-identity/token-review.ts, API stand-in)', () => {
  let api: KubernetesApiStandIn;
  let tmp: ReturnType<typeof tempDir>;
  let auth: TokenReviewAuthenticator;
  let valid: string;
  let forged: string;

  beforeAll(async () => {
    api = await KubernetesApiStandIn.start();
    tmp = tempDir();
    const file = path.join(tmp.dir, 'kubeconfig');
    api.writeKubeconfig(file);
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    // No cache: every case that passes the pre-check is reviewed by the API.
    auth = new TokenReviewAuthenticator(kc, { trustDomain: TrustDomain.of('cluster.local'), cacheMaxEntries: 0 });
    valid = await api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'] });
    forged = await api.mintToken({
      namespace: 'kube-system',
      serviceAccount: 'admin',
      audiences: ['castellan'],
      signWith: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, kid: api.currentKid },
    });
  });
  afterAll(async () => {
    await api?.close();
    tmp?.cleanup();
  });

  it('fail/damaged and random tokens: refused with a code; only the minted token is the caller it names', async () => {
    const damage = fc.record({
      base: fc.constantFrom('valid', 'forged'),
      edits: fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('set' as const), at: fc.nat(), char: fc.constantFrom(...'AQgw09-_.=+/ %') }),
          fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
          fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 6 }) }),
          fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
        ),
        { maxLength: 3 },
      ),
    });
    const token = fc.oneof({ weight: 4, arbitrary: damage }, { weight: 1, arbitrary: fc.string({ maxLength: 100 }) });
    await fc.assert(
      fc.asyncProperty(token, async (c) => {
        let t: string;
        if (typeof c === 'string') {
          t = c;
        } else {
          t = c.base === 'valid' ? valid : forged;
          for (const e of c.edits) {
            const at = e.at % (t.length + 1);
            if (e.op === 'set') t = t.slice(0, at) + e.char + t.slice(at + 1);
            else if (e.op === 'delete') t = t.slice(0, at) + t.slice(at + e.count);
            else if (e.op === 'insert') t = t.slice(0, at) + e.text + t.slice(at);
            else t = t.slice(0, at);
          }
        }
        const out = await asyncOutcomeOf(auth.authenticate({ token: t }));
        if (!out.ok) {
          expectCoded(out.error, REFUSALS);
          return;
        }
        // The API authenticated it: it is the valid token (the stand-in verifies like kube-apiserver).
        expect(out.value.spiffeId.toString()).toBe('spiffe://cluster.local/ns/shop/sa/cart');
        expect(t.split('.').slice(0, 2)).toEqual(valid.split('.').slice(0, 2));
      }),
      fuzzParams(250, { caseTimeoutMs: 20_000 }),
    );
  });
});

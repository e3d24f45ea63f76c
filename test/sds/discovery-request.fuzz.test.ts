import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRequest, forLog, MAX_NAME_BYTES, MAX_RESOURCE_NAMES, nodeFields } from '../../sds/discovery-request.js';
import { SECRET_TYPE_URL } from '../../sds/protos.js';
import { expectCoded, fuzzParams, outcomeOf } from '../helpers/fuzz.js';

/**
 * Fuzzing of the DiscoveryRequest checks (sds/discovery-request.ts) against an oracle of the limits they
 * document: the type URL (xDS protocol: empty or the Secret type on a singleton service), at most
 * MAX_RESOURCE_NAMES names per request, at most MAX_NAME_BYTES bytes per name (docs/fuzzing.md).
 */

const name = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_NAME_BYTES - 3, max: MAX_NAME_BYTES + 3 }).map((n) => 'x'.repeat(n)) },
  // Multi-byte characters: the limit counts UTF-8 bytes, not characters.
  { weight: 1, arbitrary: fc.integer({ min: 340, max: 345 }).map((n) => '€'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
const list = fc.oneof({ weight: 5, arbitrary: fc.array(name, { maxLength: 6 }) }, { weight: 1, arbitrary: fc.array(fc.constant('n'), { minLength: 20, maxLength: 70 }) });

describe('DiscoveryRequest checks fuzzing (sds/discovery-request.ts)', () => {
  it('ok/checkRequest refuses exactly what breaks a documented limit, with the code of a limit it breaks', () => {
    const typeUrl = fc.oneof(fc.constantFrom(SECRET_TYPE_URL, '', `${SECRET_TYPE_URL}x`, 'type.googleapis.com/envoy.config.cluster.v3.Cluster'), fc.string({ maxLength: 300 }));
    fc.assert(
      fc.property(typeUrl, fc.array(list, { minLength: 1, maxLength: 3 }), (t, lists) => {
        const broken = new Set<string>();
        if (t !== '' && t !== SECRET_TYPE_URL) broken.add('ERR_SDS_TYPE_URL');
        if (lists.some((l) => l.some((n) => Buffer.byteLength(n) > MAX_NAME_BYTES))) broken.add('ERR_SDS_NAME_TOO_LONG');
        if (lists.reduce((sum, l) => sum + l.length, 0) > MAX_RESOURCE_NAMES) broken.add('ERR_SDS_TOO_MANY_NAMES');
        const out = outcomeOf(() => checkRequest(t, ...lists));
        if (out.ok) {
          expect([...broken]).toEqual([]);
        } else {
          expectCoded(out.error, [...broken]);
          // The message quotes at most 200 characters of a client's type URL.
          expect(out.error.message.length).toBeLessThan(400);
        }
      }),
      fuzzParams(3000),
    );
  });

  it('ok/forLog and nodeFields never throw and cut client strings to their limits', () => {
    const node = fc.option(fc.record({ id: fc.string({ maxLength: 600 }), cluster: fc.string({ maxLength: 600 }) }), { nil: null });
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), fc.integer({ min: 0, max: 1000 }), node, (text, max, n) => {
        const cut = forLog(text, max);
        expect(cut.length).toBeLessThanOrEqual(max + `…(${text.length} chars)`.length);
        expect(text.startsWith(cut.split('…(')[0]!)).toBe(true);
        const fields = nodeFields(n);
        for (const v of Object.values(fields)) expect(v.length).toBeLessThanOrEqual(256 + 20);
      }),
      fuzzParams(1000),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deltaResponse, sotwResponse } from '../../sds/discovery-response.js';
import { envoyTypes } from '../../sds/envoy-codec.js';
import { snapshotSecrets } from '../../sds/envoy-secrets.js';
import { SECRET_TYPE_URL } from '../../sds/protos.js';
import type { IdentitySnapshot } from '../../sds/secret-source.js';
import { fuzzParams, outcomeOf } from '../helpers/fuzz.js';

/**
 * Fuzzing of the Envoy encoder (sds/envoy-codec.ts, envoy-secrets.ts, discovery-response.ts): any text
 * in a snapshot and any version, nonce or removed name (removed names come from clients) encode into
 * responses that decode, with protobufjs over the same data-plane-api types, to exactly what went in.
 */

/** Well-formed Unicode (what a protobuf string can carry: a client's names arrive UTF-8 decoded). */
const text = fc.string({ unit: 'grapheme', maxLength: 40 });

describe('Envoy codec fuzzing (sds/envoy-codec.ts, discovery-response.ts)', () => {
  it('ok/SotW and Delta responses of any snapshot decode back to what was encoded', () => {
    const snapshot = fc.record({
      chainPem: text,
      keyPem: text,
      bundles: fc.uniqueArray(fc.record({ trustDomain: text, rootsPem: text }), { maxLength: 3, selector: (b) => b.trustDomain }),
    });
    fc.assert(
      fc.property(snapshot, text, text, fc.array(text, { maxLength: 4 }), (s, version, nonce, removed) => {
        // Any text as a trust domain name: the encoder must carry it, valid or not (TrustDomain's shape, not its checks).
        const bundles = s.bundles.map((b) => ({ rootsPem: b.rootsPem, trustDomain: { name: b.trustDomain, idString: () => `spiffe://${b.trustDomain}` } }));
        const snap = { svid: { chainPem: s.chainPem, keyPem: s.keyPem }, bundles } as unknown as IdentitySnapshot;
        const secrets = snapshotSecrets(snap);
        const resources = secrets.names.map((n) => secrets.get(n)!);
        const { discoveryResponse, deltaDiscoveryResponse, secret } = envoyTypes();

        const sotw = discoveryResponse.toObject(discoveryResponse.decode(sotwResponse(version, resources, nonce)), { defaults: true }) as {
          version_info: string;
          nonce: string;
          type_url: string;
          resources: { type_url: string; value: Uint8Array }[];
        };
        expect([sotw.version_info, sotw.nonce, sotw.type_url]).toEqual([version, nonce, SECRET_TYPE_URL]);
        const decoded = sotw.resources.map(
          (r) =>
            secret.toObject(secret.decode(r.value)) as {
              name: string;
              tls_certificate?: { certificate_chain: { inline_bytes: Uint8Array }; private_key: { inline_bytes: Uint8Array } };
              validation_context?: { trusted_ca?: { inline_bytes: Uint8Array } };
            },
        );
        expect(decoded.map((d) => d.name)).toEqual(secrets.names);
        const def = decoded[0]!.tls_certificate!;
        expect(Buffer.from(def.certificate_chain.inline_bytes).toString()).toBe(s.chainPem);
        expect(Buffer.from(def.private_key.inline_bytes).toString()).toBe(s.keyPem);
        for (const b of s.bundles) {
          const d = decoded[secrets.names.indexOf(`spiffe://${b.trustDomain}`)]!;
          expect(Buffer.from(d.validation_context!.trusted_ca!.inline_bytes).toString()).toBe(b.rootsPem);
        }

        const delta = deltaDiscoveryResponse.toObject(deltaDiscoveryResponse.decode(deltaResponse(version, resources, removed, nonce)), { defaults: true }) as {
          system_version_info: string;
          nonce: string;
          removed_resources: string[];
          resources: { name: string; version: string }[];
        };
        expect([delta.system_version_info, delta.nonce]).toEqual([version, nonce]);
        expect(delta.removed_resources).toEqual(removed);
        expect(delta.resources.map((r) => [r.name, r.version])).toEqual(resources.map((r) => [r.name, r.version]));
      }),
      fuzzParams(600),
    );
  });

  it('ok/strings that are not well-formed Unicode (lone surrogates) still encode without throwing', () => {
    const raw = fc.string({ unit: 'binary', maxLength: 20 });
    fc.assert(
      fc.property(raw, raw, fc.array(raw, { maxLength: 3 }), (version, nonce, removed) => {
        expect(outcomeOf(() => deltaResponse(version, [], removed, nonce)).ok).toBe(true);
        expect(outcomeOf(() => sotwResponse(version, [], nonce)).ok).toBe(true);
      }),
      fuzzParams(500),
    );
  });
});

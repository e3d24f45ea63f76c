import { describe, expect, it } from 'vitest';
import { deltaResponse, sotwResponse } from '../../sds/discovery-response.js';
import { anyOf, encodeMessage, envoyTypes, message, typeUrlOf } from '../../sds/envoy-codec.js';
import { snapshotSecrets } from '../../sds/envoy-secrets.js';
import { SECRET_TYPE_URL } from '../../sds/protos.js';
import type { IdentitySnapshot } from '../../sds/secret-source.js';
import { TrustDomain } from '../../workload-identity/index.js';

// Only the fields envoy-secrets.ts reads; the PEM text need not be real for an encoding test.
const snapshot = {
  svid: { chainPem: 'CHAIN PEM', keyPem: 'KEY PEM' },
  bundles: [
    { trustDomain: TrustDomain.of('a.test'), rootsPem: 'ROOTS A' },
    { trustDomain: TrustDomain.of('b.test'), rootsPem: 'ROOTS B' },
  ],
} as unknown as IdentitySnapshot;

describe('Envoy codec (protobufjs over data-plane-api)', () => {
  it('ok/type URLs come from the loaded types', () => {
    expect(typeUrlOf(envoyTypes().secret)).toBe(SECRET_TYPE_URL);
  });

  it('ok/a SotW response decodes back to the Secrets it was built from, ALL with its SPIFFE validator', () => {
    const secrets = snapshotSecrets(snapshot);
    const { discoveryResponse, secret, spiffeValidatorConfig } = envoyTypes();
    const decoded = discoveryResponse.toObject(
      discoveryResponse.decode(
        sotwResponse(
          'v1',
          secrets.names.map((n) => secrets.get(n)!),
          'n1',
        ),
      ),
    ) as {
      version_info: string;
      nonce: string;
      type_url: string;
      resources: { type_url: string; value: Uint8Array }[];
    };
    expect([decoded.version_info, decoded.nonce, decoded.type_url]).toEqual(['v1', 'n1', SECRET_TYPE_URL]);
    const byName = new Map(decoded.resources.map((r) => [(secret.toObject(secret.decode(r.value)) as { name: string }).name, secret.decode(r.value)]));
    expect([...byName.keys()]).toEqual(['default', 'ROOTCA', 'ALL', 'spiffe://a.test', 'spiffe://b.test']);
    const def = secret.toObject(byName.get('default')!, { bytes: String }) as { tls_certificate: { certificate_chain: { inline_bytes: string } } };
    expect(Buffer.from(def.tls_certificate.certificate_chain.inline_bytes, 'base64').toString()).toBe('CHAIN PEM');
    const all = secret.toObject(byName.get('ALL')!) as { validation_context: { custom_validator_config: { name: string; typed_config: { type_url: string; value: Uint8Array } } } };
    const typed = all.validation_context.custom_validator_config.typed_config;
    expect(typed.type_url).toBe(typeUrlOf(spiffeValidatorConfig));
    const config = spiffeValidatorConfig.toObject(spiffeValidatorConfig.decode(typed.value)) as { trust_domains: { name: string }[] };
    expect(config.trust_domains.map((d) => d.name)).toEqual(['a.test', 'b.test']);
  });

  it('ok/the same content encodes to the same version; empty version and nonce are not sent (proto3)', () => {
    const a = snapshotSecrets(snapshot).get('ROOTCA')!;
    const b = snapshotSecrets({ ...snapshot } as IdentitySnapshot).get('ROOTCA')!;
    expect(a.version).toBe(b.version);
    const { deltaDiscoveryResponse } = envoyTypes();
    const bytes = deltaResponse('', [], ['gone'], '');
    const decoded = deltaDiscoveryResponse.decode(bytes);
    expect(Object.keys(decoded.toJSON()).sort()).toEqual(['removed_resources', 'type_url']);
  });

  it('fail/an unknown field, a string for bytes, a wrong message type or a scalar for a list is a TypeError', () => {
    const { secret, any, resource, spiffeValidatorConfig } = envoyTypes();
    expect(() => message(secret, { nmae: 'default' })).toThrow(TypeError);
    expect(() => message(secret, { validation_context: { trusted_ca: { inline_bytes: 'ROOTS' } } })).toThrow(TypeError);
    expect(() => message(resource, { resource: message(secret, { name: 'x' }) })).toThrow(TypeError);
    expect(() => message(spiffeValidatorConfig, { trust_domains: { name: 'a.test' } })).toThrow(TypeError);
    expect(encodeMessage(anyOf(secret, Buffer.from([1, 2])))).toEqual(encodeMessage(message(any, { type_url: SECRET_TYPE_URL, value: Buffer.from([1, 2]) })));
  });
});

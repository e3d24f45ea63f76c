import type { MethodDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { camelCaseDescriptor, descriptorClosure } from '../../sds/envoy-descriptor.js';
import { envoyTypes } from '../../sds/envoy-codec.js';
import { agentProtos, envoyIncludeDirs, loadEnvoyRoot, SDS_DECLARATIONS, SDS_PROTO_FILES, SDS_PROTO_OPTIONS, SDS_SERVICE, SECRET_TYPE_URL } from '../../sds/protos.js';

type Method = MethodDefinition<unknown, unknown>;

/** The SDS service as proto-loader builds it from Envoy's whole files (what the agent loaded before). */
function wholeFiles(): Record<string, Method> {
  const def = loadSync([...SDS_PROTO_FILES], { ...SDS_PROTO_OPTIONS, includeDirs: envoyIncludeDirs() });
  return def[SDS_SERVICE] as Record<string, Method>;
}

/** A request with every field of Node and the request set, nested messages, a Struct and an Any included. */
const request = {
  versionInfo: 'v7',
  node: {
    id: 'sidecar~10.0.0.1~web.ns~ns.svc.cluster.local',
    cluster: 'web',
    metadata: { fields: { ISTIO_VERSION: { stringValue: '1.24' }, LABELS: { structValue: { fields: { app: { stringValue: 'web' } } } }, n: { numberValue: 3 } } },
    locality: { region: 'eu', zone: 'eu-1a', subZone: 'r1' },
    userAgentName: 'envoy',
    userAgentBuildVersion: { version: { majorNumber: 1, minorNumber: 33, patch: 2 }, metadata: { fields: { 'build.type': { stringValue: 'RELEASE' } } } },
    extensions: [{ name: 'envoy.tls.cert_validator.spiffe', category: 'envoy.tls.cert_validator', typeUrls: ['type.googleapis.com/x'], disabled: true }],
    clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
    listeningAddresses: [{ socketAddress: { address: '0.0.0.0', portValue: 15001, protocol: 'TCP' } }, { pipe: { path: '/sock', mode: 0o600 } }],
  },
  resourceNames: ['default', 'ROOTCA'],
  resourceLocators: [{ name: 'default', dynamicParameters: { a: 'b' } }],
  typeUrl: SECRET_TYPE_URL,
  responseNonce: '3',
  errorDetail: { code: 3, message: 'bad secret', details: [{ type_url: 'type.googleapis.com/google.protobuf.Duration', value: Buffer.from([8, 5]) }] },
};

const delta = {
  node: request.node,
  typeUrl: SECRET_TYPE_URL,
  resourceNamesSubscribe: ['default'],
  resourceNamesUnsubscribe: ['ROOTCA'],
  initialResourceVersions: { default: 'abc' },
  responseNonce: '1',
  errorDetail: { code: 13, message: 'x' },
};

describe('the Envoy protos the agent keeps (envoy-descriptor.ts)', () => {
  it('ok/every SDS method decodes a full request and encodes responses exactly as the whole files do', () => {
    const whole = wholeFiles();
    const kept = agentProtos().sds[SDS_SERVICE] as Record<string, Method>;
    expect(Object.keys(kept).sort()).toEqual(Object.keys(whole).sort());
    for (const [name, m] of Object.entries(whole)) {
      const k = kept[name]!;
      expect([k.path, k.requestStream, k.responseStream]).toEqual([m.path, m.requestStream, m.responseStream]);
      const body = name === 'DeltaSecrets' ? delta : request;
      const bytes = m.requestSerialize(body);
      expect(k.requestSerialize(body)).toEqual(bytes);
      expect(k.requestDeserialize(bytes)).toEqual(m.requestDeserialize(bytes));
    }
    // A response carrying a Secret: the client side unpacks the Any into the same object.
    const { secret, spiffeValidatorConfig } = envoyTypes();
    const validator = spiffeValidatorConfig
      .encode(spiffeValidatorConfig.fromObject({ trust_domains: [{ name: 'a.test', trust_bundle: { inline_bytes: Buffer.from('R') } }] }))
      .finish();
    const value = secret
      .encode(
        secret.fromObject({
          name: 'ALL',
          validation_context: {
            custom_validator_config: {
              name: 'envoy.tls.cert_validator.spiffe',
              typed_config: { type_url: `type.googleapis.com/${spiffeValidatorConfig.fullName.slice(1)}`, value: validator },
            },
          },
        }),
      )
      .finish();
    const response = whole.StreamSecrets!.responseSerialize({ versionInfo: '1', nonce: 'n', typeUrl: SECRET_TYPE_URL, resources: [{ type_url: SECRET_TYPE_URL, value }] });
    expect(kept.StreamSecrets!.responseDeserialize(response)).toEqual(whole.StreamSecrets!.responseDeserialize(response));
    expect((kept.StreamSecrets!.responseDeserialize(response) as { resources: { '@type': string }[] }).resources[0]!['@type']).toBe(SECRET_TYPE_URL);
  });

  it('ok/the lowerCamelCase descriptor is what the .proto parser makes without keepCase', () => {
    expect(camelCaseDescriptor(descriptorClosure(loadEnvoyRoot(true), SDS_DECLARATIONS))).toEqual(descriptorClosure(loadEnvoyRoot(false), SDS_DECLARATIONS));
  });

  it('ok/only what SDS refers to is kept, without validation annotations', () => {
    const json = JSON.stringify(descriptorClosure(loadEnvoyRoot(), SDS_DECLARATIONS));
    expect(json).toContain('"SecretDiscoveryService"');
    expect(json).toContain('"SPIFFECertValidatorConfig"');
    // Declared in files SDS imports, referred to by nothing SDS uses.
    expect(json).not.toContain('"HealthCheck"');
    expect(json).not.toContain('"RuntimeFeatureFlag"');
    expect(json).not.toContain('(validate.rules)');
    expect(json).not.toContain('(udpa.annotations');
  });

  it('fail/a declaration that is not loaded is named in the error', () => {
    expect(() => descriptorClosure(loadEnvoyRoot(), ['envoy.service.secret.v3.NoSuchService'])).toThrow(/NoSuchService is not in the loaded protos/);
  });
});

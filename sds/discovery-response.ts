import { encodeMessage, envoyTypes, message } from './envoy-codec.js';
import type { EncodedSecret } from './envoy-secrets.js';
import { SECRET_TYPE_URL } from './protos.js';

/**
 * The SDS responses (data-plane-api `envoy/service/discovery/v3/discovery.proto`), encoded by protobufjs
 * around the resources' prepared `Any` / `Resource` messages, whose Secret bytes were encoded once. The
 * server registers an identity serializer, so what a stream writes is exactly these bytes: a response
 * every stream shares (sotw-stream.ts) is encoded once, never per stream.
 */

/** proto3 scalars have implicit presence: an empty string is the default and is not sent. */
const ifSet = <K extends string>(name: K, value: string): { [P in K]?: string } => (value === '' ? {} : ({ [name]: value } as { [P in K]: string }));

/**
 * `DiscoveryResponse` with the resources' Secrets.
 *
 * @example
 *   call.write(sotwResponse('7', [secrets.get('default')!], 'n7'));
 */
export function sotwResponse(versionInfo: string, resources: readonly EncodedSecret[], nonce: string): Buffer {
  return encodeMessage(
    message(envoyTypes().discoveryResponse, {
      ...ifSet('version_info', versionInfo),
      resources: resources.map((r) => r.any),
      type_url: SECRET_TYPE_URL,
      ...ifSet('nonce', nonce),
    }),
  );
}

/**
 * `DeltaDiscoveryResponse` with the changed resources and the names removed.
 *
 * @example
 *   call.write(deltaResponse('8', [secrets.get('ROOTCA')!], ['spiffe://old.example'], 'n8'));
 */
export function deltaResponse(systemVersion: string, resources: readonly EncodedSecret[], removed: readonly string[], nonce: string): Buffer {
  return encodeMessage(
    message(envoyTypes().deltaDiscoveryResponse, {
      ...ifSet('system_version_info', systemVersion),
      resources: resources.map((r) => r.resource),
      type_url: SECRET_TYPE_URL,
      ...ifSet('nonce', nonce),
      removed_resources: removed,
    }),
  );
}

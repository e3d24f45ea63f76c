import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/**
 * Istio's `IstioCertificateResponse` (istio/api security/v1alpha1/ca.proto: `repeated string
 * cert_chain = 1`) written directly as protobuf bytes: the intermediates and the trust bundle, the same
 * for every answer until a rotation, are encoded once; each answer encodes only its leaf. Encoding the
 * ~2 KB of PEM that never changes for every certificate cost more than the rest of the response.
 *
 * @example const bytes = encoder.encode(leafPem, chainPem.slice(0, -1), bundlePem);
 */
export class ChainResponseEncoder {
  private key: { readonly intermediates: readonly string[]; readonly bundlePem: string } | undefined;
  private tail = Buffer.alloc(0);

  /** The response message: `leafPem`, then `intermediates`, then the whole trust bundle as the last entry. */
  encode(leafPem: string, intermediates: readonly string[], bundlePem: string): Buffer {
    const k = this.key;
    if (!k || k.bundlePem !== bundlePem || k.intermediates.length !== intermediates.length || k.intermediates.some((p, i) => p !== intermediates[i])) {
      this.tail = Buffer.concat([...intermediates, bundlePem].map(chainEntry));
      this.key = { intermediates: [...intermediates], bundlePem };
    }
    return Buffer.concat([chainEntry(leafPem), this.tail]);
  }
}

/** Field 1, wire type 2 (length-delimited), then the UTF-8 string (protobuf encoding: tag, varint length, bytes). */
function chainEntry(pem: string): Buffer {
  const bytes = Buffer.from(pem, 'utf8');
  const head: number[] = [0x0a];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n < 0x80) {
      head.push(n);
      break;
    }
    head.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from(head), bytes]);
}

/**
 * `service` with `method`'s response serializer passing a Buffer through as the encoded message (an
 * answer made by ChainResponseEncoder) and serializing anything else as before.
 */
export function withPreEncodedResponses(service: ServiceDefinition, method: string): ServiceDefinition {
  const def = service[method] as MethodDefinition<unknown, unknown> | undefined;
  if (!def) throw new Error(`protos: ${method} is not in the service`);
  const serialize = def.responseSerialize;
  return { ...service, [method]: { ...def, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : serialize(value)) } };
}

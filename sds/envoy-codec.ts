import protobuf from 'protobufjs';
import type { Field, Message, Type } from 'protobufjs';
import { agentProtos, SECRET_TYPE_URL } from './protos.js';

/**
 * The agent's protobuf encoder: protobufjs types reflected from the same data-plane-api `.proto` files
 * the SDS service is loaded from (protos.ts), so every field number and wire type comes from Envoy's
 * definitions and none is written here. Field names are the `.proto` names (`keepCase`), e.g.
 * `tls_certificate`.
 */

/** The messages the SDS responses are made of. */
export interface EnvoyTypes {
  /** `envoy.extensions.transport_sockets.tls.v3.Secret` */
  readonly secret: Type;
  /** `envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig` (inside the `ALL` secret). */
  readonly spiffeValidatorConfig: Type;
  /** `google.protobuf.Any` */
  readonly any: Type;
  /** `envoy.service.discovery.v3.Resource` (one entry of a delta response). */
  readonly resource: Type;
  /** `envoy.service.discovery.v3.DiscoveryResponse` (state of the world, and FetchSecrets). */
  readonly discoveryResponse: Type;
  /** `envoy.service.discovery.v3.DeltaDiscoveryResponse` */
  readonly deltaDiscoveryResponse: Type;
}

/** A message's fields by `.proto` name: strings, bytes, nested messages (built or plain), lists of those. */
export interface MessageFields {
  readonly [name: string]: FieldValue;
}
type SingleValue = string | Uint8Array | Message | MessageFields;
type FieldValue = SingleValue | readonly SingleValue[];

let cached: EnvoyTypes | undefined;

/**
 * The Envoy types the agent encodes, looked up once in the Root `agentProtos()` loaded.
 *
 * @example
 *   const { secret } = envoyTypes();
 *   encodeMessage(message(secret, { name: 'ROOTCA' }));
 */
export function envoyTypes(): EnvoyTypes {
  if (cached) return cached;
  const root = agentProtos().envoy;
  const secretName = SECRET_TYPE_URL.slice(SECRET_TYPE_URL.lastIndexOf('/') + 1);
  cached = {
    secret: root.lookupType(secretName),
    spiffeValidatorConfig: root.lookupType('envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig'),
    any: root.lookupType('google.protobuf.Any'),
    resource: root.lookupType('envoy.service.discovery.v3.Resource'),
    discoveryResponse: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    deltaDiscoveryResponse: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
  };
  return cached;
}

/**
 * The type URL of a message type (xDS protocol and `google.protobuf.Any`: `type.googleapis.com/<full name>`).
 *
 * @example
 *   typeUrlOf(envoyTypes().secret) // 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret'
 */
export function typeUrlOf(type: Type): string {
  return `type.googleapis.com/${type.fullName.replace(/^\./, '')}`;
}

function fieldValue(field: Field, value: SingleValue): SingleValue {
  const nested = field.resolvedType;
  if (nested instanceof protobuf.Type) {
    if (value instanceof protobuf.Message) {
      if (value.$type !== nested) throw new TypeError(`sds: ${field.fullName} wants ${nested.fullName}, got ${value.$type.fullName}`);
      return value;
    }
    if (typeof value === 'string' || value instanceof Uint8Array) throw new TypeError(`sds: ${field.fullName} wants a ${nested.fullName} message`);
    return message(nested, value);
  }
  // protobufjs would base64-decode a string given for bytes; the agent passes bytes as bytes.
  if (field.type === 'bytes' ? value instanceof Uint8Array : field.type === 'string' && typeof value === 'string') return value;
  throw new TypeError(`sds: ${field.fullName} is a ${field.type}, not supported with this value`);
}

/**
 * A message of `type` from its fields by `.proto` name, nested messages included. Stricter than
 * protobufjs' `fromObject`, which ignores a misspelt field: an unknown name or a value of the wrong
 * kind is a TypeError. Only string, bytes and message fields are needed (and supported).
 *
 * @example
 *   message(envoyTypes().any, { type_url: typeUrlOf(secret), value: bytes });
 */
export function message(type: Type, fields: MessageFields): Message {
  const props: Record<string, SingleValue | SingleValue[]> = {};
  for (const [name, value] of Object.entries(fields)) {
    const field = type.fields[name];
    if (!field || field instanceof protobuf.MapField) throw new TypeError(`sds: ${type.fullName} has no field ${name} (or a map field, not supported)`);
    if (field.repeated !== Array.isArray(value)) throw new TypeError(`sds: ${field.fullName} ${field.repeated ? 'is' : 'is not'} repeated`);
    props[name] = Array.isArray(value) ? (value as readonly SingleValue[]).map((v) => fieldValue(field, v)) : fieldValue(field, value as SingleValue);
  }
  return type.create(props);
}

/**
 * The wire bytes of a message (the Buffer protobufjs' Node writer produces, without a copy).
 *
 * @example
 *   const bytes = encodeMessage(message(envoyTypes().secret, { name: 'default' }));
 */
export function encodeMessage(msg: Message): Buffer {
  const bytes = msg.$type.encode(msg).finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * `google.protobuf.Any` around already-encoded bytes of a message of `type`.
 *
 * @example
 *   anyOf(envoyTypes().secret, secretBytes);
 */
export function anyOf(type: Type, value: Uint8Array): Message {
  return message(envoyTypes().any, { type_url: typeUrlOf(type), value });
}

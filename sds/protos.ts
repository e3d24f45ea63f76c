import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type MethodDefinition } from '@grpc/grpc-js';
import { fromJSON, loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { AgentStatusGrpcType, SdsGrpcType } from '../proto-types/index.js';
import { camelCaseDescriptor, descriptorClosure } from './envoy-descriptor.js';

/**
 * The protos the agent's workload socket serves. Envoy's own `.proto` files (data-plane-api with its xds,
 * validate and googleapis imports) are read from `@grpc/grpc-js-xds`'s `deps/`; SPIFFE's
 * `workload.proto` from the repository's `proto/` folder, which also holds the CA's protos (the agent's
 * CA client loads those in ca-protos.ts).
 */

/** The SDS resource type (xDS protocol: type URLs are `type.googleapis.com/<message full name>`). */
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
export const SDS_SERVICE = 'envoy.service.secret.v3.SecretDiscoveryService';
export const WORKLOAD_API_SERVICE = 'SpiffeWorkloadAPI';

/**
 * Loader options. `json: true` makes protobufjs unpack a `google.protobuf.Any` whose type is loaded into
 * `{'@type': url, ...fields}`, which lets test clients read a Secret without a second decoder. The types
 * in proto-types/ are generated with these very options (a test compares them).
 */
export const SDS_PROTO_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, json: true };

/** The Envoy protos the SDS server loads: the service, the Secret it serves, the SPIFFE validator inside `ALL`. */
export const SDS_PROTO_FILES: readonly string[] = [
  'envoy/service/secret/v3/sds.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls_spiffe_validator_config.proto',
];

/**
 * What the agent uses of the Envoy protos: the SDS service (its requests and responses), the Secret it
 * serves and the SPIFFE validator inside `ALL` (so that an Any holding either is unpacked), and what
 * these refer to.
 */
export const SDS_DECLARATIONS: readonly string[] = [
  SDS_SERVICE,
  SECRET_TYPE_URL.slice(SECRET_TYPE_URL.lastIndexOf('/') + 1),
  'envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig',
];

/** The `deps/` folder of `@grpc/grpc-js-xds`, wherever npm put the package. */
function xdsDepsDir(): string {
  const require = createRequire(import.meta.url);
  // The package's `main` is build/src/index.js: the package root is two folders above it.
  const main = require.resolve('@grpc/grpc-js-xds');
  let dir = path.dirname(main);
  for (let i = 0; i < 4; i++) {
    if (existsSync(path.join(dir, 'deps', 'envoy-api'))) return path.join(dir, 'deps');
    dir = path.dirname(dir);
  }
  throw new Error('sds: cannot find deps/envoy-api inside @grpc/grpc-js-xds');
}

/**
 * The include folders the Envoy protos import from (data-plane-api, xds/udpa, protoc-gen-validate,
 * googleapis); `google/protobuf/*` is not among them: protobufjs bundles those.
 */
export function envoyIncludeDirs(): string[] {
  const deps = xdsDepsDir();
  return ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => path.join(deps, d));
}

/** The repository's `proto/` folder, found from this module whether it runs from source or dist/. */
function protoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, 'spiffe', 'workload', 'workload.proto'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('sds: cannot find the proto/ folder next to the castellan package');
}

/**
 * `validate.proto` and the udpa/xds annotations extend `google.protobuf.FieldOptions`, so the Envoy
 * files import `google/protobuf/descriptor.proto`. protobufjs ships it as JSON but does not register it
 * among its bundled files (only any, duration, empty, field_mask, struct, timestamp, wrappers).
 */
function registerDescriptorProto(): void {
  if (protobuf.common.get('google/protobuf/descriptor.proto')) return;
  const require = createRequire(import.meta.url);
  const json = require('protobufjs/google/protobuf/descriptor.json') as { nested: { google: { nested: { protobuf: { nested: Record<string, unknown> } } } } };
  protobuf.common('descriptor', json.nested.google.nested.protobuf.nested);
}

/**
 * Envoy's SDS protos, whole, as a protobufjs Root: with `.proto` field names (`keepCase`, what the
 * encoder uses, envoy-codec.ts) or lowerCamelCase ones (what the `.proto` parser makes without it).
 *
 * @example descriptorClosure(loadEnvoyRoot(), [SDS_SERVICE])
 */
export function loadEnvoyRoot(keepCase = true): protobuf.Root {
  const dirs = envoyIncludeDirs();
  registerDescriptorProto();
  const root = new protobuf.Root();
  // protobufjs resolves an import relative to the importing file; protoc semantics (which the Envoy
  // files are written for) search the include folders instead. `google/protobuf/*` never reaches this:
  // protobufjs takes those from its bundled definitions first.
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    const found = dirs.map((dir) => path.join(dir, target)).find((file) => existsSync(file));
    if (!found) throw new Error(`sds: ${target} is in none of the proto include folders ${dirs.join(', ')}`);
    return found;
  };
  root.loadSync([...SDS_PROTO_FILES], { keepCase });
  root.resolveAll();
  return root;
}

export interface AgentProtos {
  /** Envoy SDS: SecretDiscoveryService plus the Secret and SPIFFE validator messages (for Any unpacking). */
  readonly sds: PackageDefinition;
  /** The same Envoy protos as a protobufjs Root: what the server encodes its responses with. */
  readonly envoy: protobuf.Root;
  /** SPIFFE Workload API. */
  readonly workload: PackageDefinition;
  /** Castellan's read-only agent status (`castellan.agent.v1.AgentStatus`). */
  readonly agentStatus: PackageDefinition;
}

let cached: AgentProtos | undefined;

/**
 * Loads (once) the SDS and Workload API definitions, at server start so no stream waits for them.
 *
 * @example
 *   const { sds } = agentProtos();
 *   const stream = sds['envoy.service.secret.v3.SecretDiscoveryService'];
 */
export function agentProtos(): AgentProtos {
  if (cached) return cached;
  // The Envoy files are parsed once, and only what the agent uses is kept (envoy-descriptor.ts): the
  // parsed files become garbage, not memory the agent holds for its whole life.
  const descriptor = descriptorClosure(loadEnvoyRoot(), SDS_DECLARATIONS);
  const envoy = protobuf.Root.fromJSON(descriptor);
  envoy.resolveAll();
  // proto-loader's objects have lowerCamelCase names (SDS_PROTO_OPTIONS: keepCase off).
  const sds = fromJSON(camelCaseDescriptor(descriptor), SDS_PROTO_OPTIONS);
  const workload = loadSync('spiffe/workload/workload.proto', { ...SDS_PROTO_OPTIONS, includeDirs: [protoRoot()] });
  cached = { sds, envoy, workload, agentStatus: agentStatusProto() };
  return cached;
}

/** The agent status service alone (its client loads only this, not the Envoy protos). */
export function agentStatusProto(): PackageDefinition {
  return loadSync('castellan/agent/v1/agent.proto', { ...SDS_PROTO_OPTIONS, includeDirs: [protoRoot()] });
}

export const AGENT_STATUS_SERVICE = 'castellan.agent.v1.AgentStatus';

/** The typed client constructor of `castellan.agent.v1.AgentStatus` (`castellan agent status`). */
export function agentStatusClient(): AgentStatusGrpcType['castellan']['agent']['v1']['AgentStatus'] {
  // The generated type describes exactly this load (same file, SDS_PROTO_OPTIONS).
  return (loadPackageDefinition(agentStatusProto()) as unknown as AgentStatusGrpcType).castellan.agent.v1.AgentStatus;
}

/** The typed client constructor of Envoy's `SecretDiscoveryService` (the SdsClient's). */
export function sdsClient(): SdsGrpcType['envoy']['service']['secret']['v3']['SecretDiscoveryService'] {
  // The generated type describes exactly this load (Envoy's SDS protos, SDS_PROTO_OPTIONS).
  return (loadPackageDefinition(agentProtos().sds) as unknown as SdsGrpcType).envoy.service.secret.v3.SecretDiscoveryService;
}

/** One method of a loaded service (`service` is the full name, `method` the RPC name). */
export function methodOf(def: PackageDefinition, service: string, method: string): MethodDefinition<unknown, unknown> {
  const svc = def[service] as Record<string, MethodDefinition<unknown, unknown>> | undefined;
  const m = svc?.[method];
  if (!m) throw new Error(`sds: ${service}/${method} is not in the loaded protos`);
  return m;
}

// The TypeScript types of every gRPC edge (docs/architecture.md §1), generated from the .proto files by
// grpc-js's own `proto-loader-gen-types` (scripts/gen-proto-types.mjs, `npm run gen:proto`; a test fails
// when generated/ is not what the generator makes of today's .proto files). Types only: the protos are
// loaded at run time by ca/server/protos.ts and sds/protos.ts with the very options the types were
// generated for, and a package definition is typed once, where it is loaded:
//
//   const pkg = loadPackageDefinition(def) as unknown as CaGrpcType;
//   new pkg.castellan.ca.v1.CertificateAuthority(address, creds).Sign({ csr }, md, (err, r) => r?.leaf);
//
// Per message `X` the generator writes `X` (what may be sent: every field optional, longs as number,
// string or Long) and `X__Output` (what grpc-js decodes: every field present, longs as numbers); per
// service the client interface, `XHandlers` (a server's implementation) and `XDefinition`.

/** castellan.ca.v1 (proto/castellan/ca/v1/ca.proto): the CA's own API and RootAdmin. */
export type * as CaV1 from './generated/castellan-ca-v1.js';
/** istio.v1.auth (proto/istio/v1/auth/ca.proto): Istio's CreateCertificate. */
export type * as IstioV1Auth from './generated/istio-v1-auth.js';
/** castellan.agent.v1 (proto/castellan/agent/v1/agent.proto): the agent's status service. */
export type * as AgentV1 from './generated/castellan-agent-v1.js';
/** The SPIFFE Workload API (proto/spiffe/workload/workload.proto; no package). */
export type * as SpiffeWorkload from './generated/spiffe-workload.js';
/** envoy.service.discovery.v3: the xDS requests and responses SDS carries. */
export type * as EnvoyDiscoveryV3 from './generated/envoy-service-discovery-v3.js';
/** envoy.service.secret.v3: SecretDiscoveryService. */
export type * as EnvoySecretV3 from './generated/envoy-service-secret-v3.js';
/** envoy.extensions.transport_sockets.tls.v3: Secret and what it holds. */
export type * as EnvoyTlsV3 from './generated/envoy-transport-sockets-tls-v3.js';

/** The package definition of the CA's protos (Castellan's API and Istio's), as ca/server/protos.ts loads it. */
export type { ProtoGrpcType as CaGrpcType } from './generated/ca/ca.js';
/** The package definition of `castellan/agent/v1/agent.proto` (sds/protos.ts). */
export type { ProtoGrpcType as AgentStatusGrpcType } from './generated/agent/agent.js';
/** The package definition of `spiffe/workload/workload.proto` (sds/protos.ts). */
export type { ProtoGrpcType as WorkloadGrpcType } from './generated/agent/workload.js';
/** The package definition of Envoy's `envoy/service/secret/v3/sds.proto` (sds/protos.ts). */
export type { ProtoGrpcType as SdsGrpcType } from './generated/agent/sds.js';

export type { MethodName, PreEncodedHandlers, RequestOf, ResponseOf, UnaryCalls } from './method-types.js';

// Public API of the agent (docs/architecture.md §5). Other folders import only from here.
export type {
  BundleSet,
  IdentitySnapshot,
  SecretChange,
  SecretProvider,
  SecretWatch,
  StreamCaller,
} from './secret-source.js';

// --- workload-facing servers (SDS, SPIFFE Workload API, SDS client): exports below ---
export { startWorkloadSocket, type WorkloadSocket, type WorkloadSocketOptions } from './workload-socket.js';
export { SdsClient, type SdsClientOptions, type SdsIdentity } from './sds-client.js';
export { SdsMetrics, type WorkloadApi } from './sds-metrics.js';
export { workloadCallError, type CallError as WorkloadCallError, type WorkloadServerErrorCode } from './grpc-status.js';
export { agentProtos, SECRET_TYPE_URL, SDS_SERVICE, WORKLOAD_API_SERVICE } from './protos.js';
export { ALL_SECRET, DEFAULT_SECRET, ROOTCA_SECRET } from './envoy-secrets.js';
export { MAX_NAME_BYTES, MAX_RESOURCE_NAMES } from './discovery-request.js';
export { WORKLOAD_HEADER } from './workload-api.js';
export { agentStatusReport, certificateSummary, type AgentStatusReport, type CertificateSummary } from './agent-status.js';
export { fetchAgentStatus, type AgentStatusErrorCode } from './agent-status-client.js';

// --- agent identity side (CA client, key, cache, rotation, node mode): exports below ---
export { Agent, startAgent, type AgentOptions } from './agent.js';
export type { AgentErrorCode } from './agent-errors.js';
export { systemClock, type AgentClock } from './agent-clock.js';
export {
  AGENT_CONFIG_KEYS,
  AGENT_ENV,
  DEFAULT_SOCKET,
  loadAgentConfigFile,
  resolveAgentConfig,
  type AgentConfig,
  type AgentConfigKey,
} from './agent-config.js';
export { AgentMetrics } from './agent-metrics.js';
export { backoffDelay, renewalDelay, DEFAULT_BACKOFF, type BackoffOptions, type RenewalOptions } from './backoff.js';
export { CaClient, type CaCallErrorCode, type CaClientOptions, type ReportCall, type SignedCertificate, type TrustBundleMessage } from './ca-client.js';
export { BundleReporter, type BundleReporterOptions } from './bundle-reporter.js';
export type { ReissueRequest } from './trust-bundle-state.js';
export { SecretCache } from './secret-cache.js';
export { IdentityRotation, type RotationEvent, type RotationOptions } from './rotation.js';
export { TokenFile, tokenExpiry } from './token-file.js';
export { generateWorkloadKey, WORKLOAD_KEY_TYPES, type WorkloadKeyType } from './workload-key.js';

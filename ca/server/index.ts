// Public API of the CA server (re-exported by ca/index.ts).
export { CaServer, type CaServerOptions } from './ca-server.js';
export { caServerConfigSchema, loadCaServerConfig, missingAuthenticator, NO_TOKEN_AUTHENTICATOR, validateCaServerConfig, type CaServerConfig } from './config.js';
export { bundleConfigMaps, resolveCaConfig, type Pkcs11Config, type ResolvedCaConfig, type ResolvedKubernetesStore } from './ca-config.js';
export { CA_CONFIG_DEFAULTS, DEFAULT_INTERMEDIATE_ROTATE_AT } from './ca-config-defaults.js';
export { callErrorFor, callStatus, ERROR_CODE_HEADER, MAX_TTL_HEADER, type CallError } from './grpc-status.js';
export { IssuanceService, tokenHash, type IssuanceResult } from './issuance-service.js';
export { CaMetrics } from './metrics.js';
export { caProtos, protoRoot, PROTO_OPTIONS, type CaProtos } from './protos.js';
export { RateLimiter, type RateLimit } from './rate-limiter.js';
export { startCaServer, type StartCaServerOptions, type TokenMode } from './start-ca-server.js';
export { TrustBundleSource, type TrustBundleSnapshot, type TrustBundleContent } from './trust-bundle-source.js';
export { AgentTracker, DEFAULT_AGENT_WARMUP_MS, DEFAULT_AGENT_HEARTBEAT_MS, DEFAULT_AGENT_LIVENESS_MS, readAgentReports, type AgentTrackerOptions } from './agent-tracker.js';
export { StoreFollower, type StoreFollowerOptions } from './store-follower.js';
export { rootStatus, type RootStatus, type SlotStatus } from './rotation-status.js';
export { DEFAULT_REISSUE_RATE, RootAdmin, type RootAdminOptions, type RootStepOutcome } from './root-admin.js';
export {
  BUNDLE_CONFIGMAP_KEY,
  BUNDLE_CONFIGMAP_NAME,
  BUNDLE_SEQUENCE_ANNOTATION,
  BundleConfigMapPublisher,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  type BundleConfigMapPublisherOptions,
  type BundleConfigMapStats,
  type PublishedBundleSource,
  type PublishPass,
  type PublisherTimers,
} from './bundle-configmaps.js';
export { openCaStore, pinOf, storeFromConfig, type OpenedCaStore } from './open-ca-store.js';
export { caHealth, type CaHealth } from './ca-health.js';
export { caHealthMessage, caHealthOf, rootStatusMessage, rootStatusOf } from './admin-messages.js';
export { DEFAULT_REFRESH_HINT_SECONDS, ownBundleDocument } from './own-bundle.js';

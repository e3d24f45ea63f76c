import { DEFAULT_INTERMEDIATE_TTL_MS, DEFAULT_ROOT_TTL_MS } from '../authority-mint.js';
import { DEFAULT_MAX_WORKLOAD_TTL_MS, DEFAULT_WORKLOAD_TTL_MS } from '../issuer.js';
import { DEFAULT_JWT_KEY_PUBLISH_LEAD_MS } from '../jwt-authorities.js';
import { DEFAULT_JWT_SVID_TTL_MS, DEFAULT_MAX_JWT_SVID_TTL_MS } from '../jwt-svid-issuer.js';
import { DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_INTERVAL_MS } from '../ledger/index.js';
import { DEFAULT_AGENT_LIVENESS_MS, DEFAULT_AGENT_WARMUP_MS, DEFAULT_MAX_AGENTS_PER_IDENTITY, DEFAULT_MAX_AGENTS_PER_IDENTITY_PEER } from './agent-tracker.js';
import { DEFAULT_REFRESH_HINT_SECONDS } from './own-bundle.js';

/** Fraction of an intermediate's lifetime after which a new one takes over (rotation.intermediateRotateAt). */
export const DEFAULT_INTERMEDIATE_ROTATE_AT = 0.5;

/**
 * Every default of the CA's configuration file, one place (the schema's comments in config.ts say the
 * same values to the reader of the file). Defaults of the components (Issuer, Ledger, AgentTracker, ...)
 * are imported where they have a name, so that a CA run without a key behaves as the component alone.
 */
export const CA_CONFIG_DEFAULTS = Object.freeze({
  listen: '127.0.0.1:15012',
  http: '127.0.0.1:15014',
  namespace: 'castellan-system',
  workloadTtlMs: DEFAULT_WORKLOAD_TTL_MS,
  maxWorkloadTtlMs: DEFAULT_MAX_WORKLOAD_TTL_MS,
  /** The token audience of jwks and tokenReview. */
  audiences: Object.freeze(['castellan']),
  tokenReviewCacheTtlMs: 60_000,
  limits: Object.freeze({
    maxRequestBytes: 65_536,
    global: Object.freeze({ ratePerSecond: 20_000, burst: 20_000 }),
    perIdentity: Object.freeze({ ratePerSecond: 200, burst: 2_000 }),
    perPeer: Object.freeze({ ratePerSecond: 1_000, burst: 2_000 }),
    maxWatchers: 10_000,
    maxWatchersPerIdentity: 5_000,
    maxWatchersPerPeer: 256,
    maxWatchersPerIdentityPeer: 8,
    maxAgentsPerIdentity: DEFAULT_MAX_AGENTS_PER_IDENTITY,
    maxAgentsPerIdentityPeer: DEFAULT_MAX_AGENTS_PER_IDENTITY_PEER,
    maxConnectionsPerPeer: 256,
    handshakeTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    connectionIdleTimeoutMs: 60_000,
    connectionMaxAgeMs: 3_600_000,
    connectionMaxAgeGraceMs: 300_000,
  }),
  ledger: Object.freeze({ checkpointEvery: DEFAULT_CHECKPOINT_EVERY, checkpointIntervalMs: DEFAULT_CHECKPOINT_INTERVAL_MS, sqliteSynchronous: 'full' as const }),
  shutdownGraceMs: 10_000,
  signingWorkers: 'auto' as const,
  rotation: Object.freeze({
    intermediateRotateAt: DEFAULT_INTERMEDIATE_ROTATE_AT,
    reloadIntervalMs: 2_000,
    agentLivenessMs: DEFAULT_AGENT_LIVENESS_MS,
    agentWarmupMs: DEFAULT_AGENT_WARMUP_MS,
  }),
  kubernetes: Object.freeze({
    secretName: 'castellan-ca',
    leaseName: 'castellan-leader',
    leaseDurationMs: 15_000,
    /** LeaderElection's own renew deadline with the default lease (a given lease renews at 66 % of it). */
    renewDeadlineMs: 10_000,
    keyType: 'ec-p256' as const,
    rootTtlMs: DEFAULT_ROOT_TTL_MS,
    intermediateTtlMs: DEFAULT_INTERMEDIATE_TTL_MS,
  }),
  resyncIntervalMs: 60_000,
  jwtSvid: Object.freeze({ defaultTtlMs: DEFAULT_JWT_SVID_TTL_MS, maxTtlMs: DEFAULT_MAX_JWT_SVID_TTL_MS, keyPublishLeadMs: DEFAULT_JWT_KEY_PUBLISH_LEAD_MS }),
  bundleEndpoint: Object.freeze({ path: '/', refreshHintMs: DEFAULT_REFRESH_HINT_SECONDS * 1000 }),
});

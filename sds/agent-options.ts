import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentClock } from './agent-clock.js';
import type { BackoffOptions, RenewalOptions } from './backoff.js';
import type { NodeProviderOptions } from './node-provider.js';
import type { RotationEvent } from './rotation.js';
import type { WorkloadKeyType } from './workload-key.js';

/** What `startAgent` / `new Agent` take (the CLI resolves them from flags and files: agent-config.ts). */
export interface AgentOptions {
  /** CA gRPC address, `host:port`. */
  readonly caAddress: string;
  /** PEM roots that verify the CA's serving certificate. */
  readonly caBundlePem: string;
  /** DNS name expected in the CA's certificate; see CaClientOptions.serverName. */
  readonly caServerName?: string;
  /** Default sidecar. */
  readonly mode?: 'sidecar' | 'node';
  /** Sidecar: the pod's projected token (required). Node: the agent's own token, for WatchTrustBundle (optional). */
  readonly tokenFile?: string;
  /** Default ec-p256. */
  readonly keyType?: WorkloadKeyType;
  /** Requested certificate lifetime, ms. Default 24 h. */
  readonly ttlMs?: number;
  /** Default: renew at 50 % ± 10 % of the lifetime. */
  readonly renewal?: RenewalOptions;
  /** Default: 1 s doubling to 60 s, ±20 %. */
  readonly backoff?: BackoffOptions;
  /** Reported to the CA. Default: the host name. */
  readonly agentId?: string;
  /** Node mode: how long an unused identity is kept, ms. Default 300000. */
  readonly nodeIdleMs?: number;
  /** Node mode: bounds on concurrent token proofs and the refused-token memory (defaults suit production). */
  readonly nodeProofLimits?: NodeProviderOptions['proofLimits'];
  /** Node mode: a new stream is served without asking the CA again only this long after the CA last accepted its token, ms. Default 1000. */
  readonly nodeTokenRecheckMs?: number;
  /** Serve SDS and the Workload API on this Unix socket; absent: no socket (the caller serves `provider`). */
  readonly socketPath?: string;
  /** Prometheus registry for the agent's (and the socket's) metrics. Default: a new one. */
  readonly registry?: Registry;
  readonly clock?: AgentClock;
  readonly random?: () => number;
  readonly log: Logger;
  /** Every certificate issued and every failed request (the dev command prints them). */
  readonly onEvent?: (e: RotationEvent) => void;
  /** grpc-js options of the CA channel (tests shorten its reconnect backoff). */
  readonly caChannelOptions?: Record<string, string | number>;
}

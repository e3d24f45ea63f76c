import { z } from 'zod';
import { CastellanError, durationField, hostPortField, positiveDurationField, readConfigFile } from '../workload-identity/index.js';
import { WORKLOAD_KEY_TYPES, type WorkloadKeyType } from './workload-key.js';

const duration = durationField;
const hostPort = hostPortField;
const fraction = z.coerce.number().gt(0).lt(1);

/** The agent's configuration file (YAML or JSON); flags and CASTELLAN_* variables override it. */
export const agentConfigSchema = z
  .object({
    /** CA gRPC address, host:port. Required. */
    caAddr: hostPort.optional(),
    /** PEM file with the roots that verify the CA's serving certificate (the CA's bundle.pem). Required. */
    caBundle: z.string().min(1).optional(),
    /** DNS name expected in the CA's certificate. Default: the host of caAddr (localhost for an IP). */
    caServerName: z.string().min(1).optional(),
    /** The pod's projected service-account token file. Required in sidecar mode; node mode: optional, the agent's own (for WatchTrustBundle). */
    tokenFile: z.string().min(1).optional(),
    /** Unix socket for SDS and the Workload API. Default /var/run/castellan/sds.sock. */
    socket: z.string().min(1).optional(),
    /** sidecar (one pod) or node (every pod of the node, by the stream's token). Default sidecar. */
    mode: z.enum(['sidecar', 'node']).optional(),
    /** Workload key type. Default ec-p256. */
    keyType: z.enum(WORKLOAD_KEY_TYPES as [WorkloadKeyType, ...WorkloadKeyType[]]).optional(),
    /** Requested certificate lifetime. Default 24h (the CA may cap it). At least 1m. */
    ttl: duration.optional(),
    /** Renew after this fraction of the lifetime. Default 0.5. */
    renewFraction: fraction.optional(),
    /** ± this fraction of the lifetime. Default 0.1. */
    renewJitter: z.coerce.number().min(0).lt(0.5).optional(),
    /** First retry delay after a failed request. Default 1s. */
    retryInitial: positiveDurationField.optional(),
    /** Longest retry delay. Default 60s. */
    retryMax: positiveDurationField.optional(),
    /** /healthz /readyz /metrics address; absent: no HTTP listener. */
    http: hostPort.optional(),
    /** The name the agent reports to the CA. Default: the host name. */
    agentId: z.string().min(1).max(253).optional(),
    /** Node mode: how long an identity no stream uses is kept. Default 5m. */
    nodeIdleTimeout: duration.optional(),
  })
  .strict();

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
type Parsed = z.output<typeof agentConfigSchema>;

/** A complete, validated agent configuration (durations in ms). */
export interface AgentConfig {
  readonly caAddr: string;
  readonly caBundle: string;
  readonly caServerName?: string;
  readonly tokenFile?: string;
  readonly socket: string;
  readonly mode: 'sidecar' | 'node';
  readonly keyType: WorkloadKeyType;
  readonly ttlMs: number;
  readonly renewFraction: number;
  readonly renewJitter: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly http?: string;
  readonly agentId?: string;
  readonly nodeIdleTimeoutMs: number;
}

export const DEFAULT_SOCKET = '/var/run/castellan/sds.sock';

/** Where each field comes from, for messages: the flag that sets it. */
const FLAG: Record<string, string> = {
  caAddr: '--ca-addr',
  caBundle: '--ca-bundle',
  tokenFile: '--token-file',
  socket: '--socket',
  mode: '--mode',
  keyType: '--key-type',
  ttl: '--ttl',
  http: '--http',
};

/**
 * Validates a merged configuration (file, then environment, then flags), listing every problem by path
 * in one ERR_CONFIG error, and applies the defaults.
 *
 * @example resolveAgentConfig({ caAddr: 'ca:15012', caBundle: 'bundle.pem', tokenFile: 'token', ttl: '1h' })
 */
export function resolveAgentConfig(raw: unknown, source = 'config'): AgentConfig {
  const r = agentConfigSchema.safeParse(raw ?? {});
  const name = (p: PropertyKey[]) => (p.length === 0 ? '(top level)' : p.length === 1 && FLAG[String(p[0])] ? `${String(p[0])} (${FLAG[String(p[0])]})` : p.join('.'));
  const lines = r.success ? [] : r.error.issues.map((i) => `  ${name(i.path)}: ${i.message}`);
  const c: Partial<Parsed> = r.success ? r.data : {};
  if (r.success) {
    if (c.caAddr === undefined) lines.push('  caAddr (--ca-addr): required');
    if (c.caBundle === undefined) lines.push('  caBundle (--ca-bundle): required');
    if ((c.mode ?? 'sidecar') === 'sidecar' && c.tokenFile === undefined) lines.push('  tokenFile (--token-file): required in sidecar mode');
    if (c.ttl !== undefined && c.ttl < 60_000) lines.push('  ttl (--ttl): at least 1m');
    if (c.ttl !== undefined && c.ttl % 1000 !== 0) lines.push('  ttl (--ttl): whole seconds');
    // Against the defaults too (backoff.ts), as a retryInitial above them would be silently cut to retryMax.
    if ((c.retryInitial ?? 1_000) > (c.retryMax ?? 60_000)) lines.push(`  retryInitial: longer than retryMax${c.retryMax === undefined ? ' (default 60s)' : ''}`);
  }
  if (lines.length > 0) throw new CastellanError('ERR_CONFIG', `${source}: ${lines.length} problem${lines.length > 1 ? 's' : ''}:\n${lines.join('\n')}`);
  return {
    caAddr: c.caAddr!,
    caBundle: c.caBundle!,
    ...(c.caServerName !== undefined ? { caServerName: c.caServerName } : {}),
    ...(c.tokenFile !== undefined ? { tokenFile: c.tokenFile } : {}),
    socket: c.socket ?? DEFAULT_SOCKET,
    mode: c.mode ?? 'sidecar',
    keyType: c.keyType ?? 'ec-p256',
    ttlMs: c.ttl ?? 24 * 3_600_000,
    renewFraction: c.renewFraction ?? 0.5,
    renewJitter: c.renewJitter ?? 0.1,
    retryInitialMs: c.retryInitial ?? 1_000,
    retryMaxMs: c.retryMax ?? 60_000,
    ...(c.http !== undefined ? { http: c.http } : {}),
    ...(c.agentId !== undefined ? { agentId: c.agentId } : {}),
    nodeIdleTimeoutMs: c.nodeIdleTimeout ?? 300_000,
  };
}

/** The CASTELLAN_* environment variables the agent reads, as config fields. */
export const AGENT_ENV: Readonly<Record<string, keyof AgentConfigInput>> = {
  CASTELLAN_CA_ADDR: 'caAddr',
  CASTELLAN_CA_BUNDLE: 'caBundle',
  CASTELLAN_CA_SERVER_NAME: 'caServerName',
  CASTELLAN_TOKEN_FILE: 'tokenFile',
  CASTELLAN_SOCKET: 'socket',
  CASTELLAN_MODE: 'mode',
  CASTELLAN_KEY_TYPE: 'keyType',
  CASTELLAN_TTL: 'ttl',
  CASTELLAN_HTTP: 'http',
  CASTELLAN_AGENT_ID: 'agentId',
};

/** Reads a YAML or JSON agent configuration file (readConfigFile); only its shape is checked here (required fields may come from flags). */
export async function loadAgentConfigFile(file: string): Promise<Record<string, unknown>> {
  const raw = await readConfigFile(file);
  const r = agentConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new CastellanError('ERR_CONFIG', `config ${file}: ${lines.length} problem${lines.length > 1 ? 's' : ''}:\n${lines.join('\n')}`);
  }
  return raw;
}

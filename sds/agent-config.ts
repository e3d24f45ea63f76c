import {
  CastellanError,
  checkChoice,
  checkDuration,
  checkFields,
  checkHostPort,
  checkNumber,
  checkPositiveDuration,
  checkText,
  readConfigFile,
  textThen,
  type FieldProblem,
} from '../workload-identity/index.js';
import { WORKLOAD_KEY_TYPES, type WorkloadKeyType } from './workload-key.js';

const text = (v: unknown) => checkText(v, { min: 1 });
const duration = textThen(checkDuration);
const hostPort = textThen(checkHostPort);

/**
 * The agent's configuration file (YAML or JSON), one check per key; flags and CASTELLAN_* variables
 * override it. The checks are the shared ones of workload-identity (the CA's zod fields are built on
 * them), without zod: the agent does not load it (docs/agent.md, "Memory").
 */
const AGENT_FIELDS = {
  /** CA gRPC address, host:port. Required. */
  caAddr: hostPort,
  /** PEM file with the roots that verify the CA's serving certificate (the CA's bundle.pem). Required. */
  caBundle: text,
  /** DNS name expected in the CA's certificate. Default: the host of caAddr (localhost for an IP). */
  caServerName: text,
  /** The pod's projected service-account token file. Required in sidecar mode; node mode: optional, the agent's own (for WatchTrustBundle). */
  tokenFile: text,
  /** Unix socket for SDS and the Workload API. Default /var/run/castellan/sds.sock. */
  socket: text,
  /** sidecar (one pod) or node (every pod of the node, by the stream's token). Default sidecar. */
  mode: (v: unknown) => checkChoice(v, ['sidecar', 'node'] as const),
  /** Workload key type. Default ec-p256. */
  keyType: (v: unknown) => checkChoice(v, WORKLOAD_KEY_TYPES),
  /** Requested certificate lifetime. Default 24h (the CA may cap it). At least 1m. */
  ttl: duration,
  /** Renew after this fraction of the lifetime. Default 0.5. */
  renewFraction: (v: unknown) => checkNumber(v, { gt: 0, lt: 1 }),
  /** ± this fraction of the lifetime. Default 0.1. */
  renewJitter: (v: unknown) => checkNumber(v, { min: 0, lt: 0.5 }),
  /** First retry delay after a failed request. Default 1s. */
  retryInitial: textThen(checkPositiveDuration),
  /** Longest retry delay. Default 60s. */
  retryMax: textThen(checkPositiveDuration),
  /** /healthz /readyz /metrics address; absent: no HTTP listener. */
  http: hostPort,
  /** The name the agent reports to the CA. Default: the host name. */
  agentId: (v: unknown) => checkText(v, { min: 1, max: 253 }),
  /** Node mode: how long an identity no stream uses is kept. Default 5m. */
  nodeIdleTimeout: duration,
};

/** A key of the agent's configuration file. */
export type AgentConfigKey = keyof typeof AGENT_FIELDS;

/** Every key the agent's configuration file may hold (`config validate` tells agent files from CA files by them). */
export const AGENT_CONFIG_KEYS: readonly AgentConfigKey[] = Object.keys(AGENT_FIELDS) as AgentConfigKey[];

/** Where each field comes from, for messages: the flag that sets it. */
const FLAG: Partial<Record<string, string>> = {
  caAddr: '--ca-addr',
  caBundle: '--ca-bundle',
  tokenFile: '--token-file',
  socket: '--socket',
  mode: '--mode',
  keyType: '--key-type',
  ttl: '--ttl',
  http: '--http',
};

/** One problem line of an ERR_CONFIG message: the key (with its flag when `flags`), then the problem. */
const problemLine = (p: FieldProblem, flags: boolean) => `  ${p.key === undefined ? '(top level)' : flags && FLAG[p.key] ? `${p.key} (${FLAG[p.key]})` : p.key}: ${p.problem}`;

const configError = (source: string, lines: readonly string[]) =>
  new CastellanError('ERR_CONFIG', `${source}: ${lines.length} problem${lines.length > 1 ? 's' : ''}:\n${lines.join('\n')}`);

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

/**
 * Validates a merged configuration (file, then environment, then flags), listing every problem by path
 * in one ERR_CONFIG error, and applies the defaults.
 *
 * @example resolveAgentConfig({ caAddr: 'ca:15012', caBundle: 'bundle.pem', tokenFile: 'token', ttl: '1h' })
 */
export function resolveAgentConfig(raw: unknown, source = 'config'): AgentConfig {
  const { values: c, problems } = checkFields(raw ?? {}, AGENT_FIELDS);
  const lines = problems.map((p) => problemLine(p, true));
  if (problems.length === 0) {
    if (c.caAddr === undefined) lines.push('  caAddr (--ca-addr): required');
    if (c.caBundle === undefined) lines.push('  caBundle (--ca-bundle): required');
    if ((c.mode ?? 'sidecar') === 'sidecar' && c.tokenFile === undefined) lines.push('  tokenFile (--token-file): required in sidecar mode');
    if (c.ttl !== undefined && c.ttl < 60_000) lines.push('  ttl (--ttl): at least 1m');
    if (c.ttl !== undefined && c.ttl % 1000 !== 0) lines.push('  ttl (--ttl): whole seconds');
    // Against the defaults too (backoff.ts), as a retryInitial above them would be silently cut to retryMax.
    if ((c.retryInitial ?? 1_000) > (c.retryMax ?? 60_000)) lines.push(`  retryInitial: longer than retryMax${c.retryMax === undefined ? ' (default 60s)' : ''}`);
  }
  if (lines.length > 0) throw configError(source, lines);
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
export const AGENT_ENV: Readonly<Record<string, AgentConfigKey>> = {
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
  const { problems } = checkFields(raw, AGENT_FIELDS);
  if (problems.length > 0)
    throw configError(
      `config ${file}`,
      problems.map((p) => problemLine(p, false)),
    );
  return raw;
}

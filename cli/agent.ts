import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { parseHostPort, startHealthEndpoints, type HealthEndpoints } from '../workload-identity/index.js';
import { AGENT_ENV, DEFAULT_SOCKET, loadAgentConfigFile, resolveAgentConfig, startAgent, type AgentConfig } from '../sds/index.js';
import { setAgentRunV8Flags } from './agent-v8.js';
import { UsageError, type CliIo } from './io.js';
import { createLogger } from './logger.js';

interface AgentFlags {
  config?: string;
  caAddr?: string;
  caBundle?: string;
  caServerName?: string;
  tokenFile?: string;
  socket?: string;
  mode?: string;
  keyType?: string;
  ttl?: string;
  http?: string;
  agentId?: string;
}

const FLAG_FIELDS = ['caAddr', 'caBundle', 'caServerName', 'tokenFile', 'socket', 'mode', 'keyType', 'ttl', 'http', 'agentId'] as const;

/**
 * The agent's configuration from its three sources (flags, then CASTELLAN_* variables, then the file),
 * validated once. A file that does not parse is a failure (exit 1); anything else wrong is a usage
 * error (exit 2) listing every problem.
 */
export async function agentConfigFrom(f: AgentFlags, io: CliIo): Promise<AgentConfig> {
  const configFile = f.config ?? io.env.CASTELLAN_CONFIG;
  const file = configFile ? await loadAgentConfigFile(path.resolve(io.cwd, configFile)) : {};
  const env: Record<string, string> = {};
  for (const [name, field] of Object.entries(AGENT_ENV)) {
    const v = io.env[name];
    if (v !== undefined && v !== '') env[field] = v;
  }
  const flags: Record<string, string> = {};
  for (const k of FLAG_FIELDS) if (f[k] !== undefined) flags[k] = f[k];
  const merged: Record<string, unknown> = { ...file, ...env, ...flags };
  // Relative paths in flags and variables are relative to the working directory.
  for (const k of ['caBundle', 'tokenFile', 'socket'] as const) if (typeof merged[k] === 'string') merged[k] = path.resolve(io.cwd, merged[k]);
  try {
    return resolveAgentConfig(merged, configFile ? `agent configuration (flags, environment, ${configFile})` : 'agent flags');
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/:\n\s*/, ': ').replace(/\n\s*/g, '; '));
  }
}

/**
 * Runs the agent until `stop` resolves (a signal), then closes it: streams end, the socket file goes.
 *
 * @example await runAgent(config, io, log, waitForSignal());
 */
export async function runAgent(config: AgentConfig, io: CliIo, log: Logger, stop: Promise<unknown>): Promise<void> {
  const caBundlePem = await fs.readFile(config.caBundle, 'utf8');
  const agent = await startAgent({
    caAddress: config.caAddr,
    caBundlePem,
    ...(config.caServerName ? { caServerName: config.caServerName } : {}),
    mode: config.mode,
    ...(config.tokenFile ? { tokenFile: config.tokenFile } : {}),
    keyType: config.keyType,
    ttlMs: config.ttlMs,
    renewal: { fraction: config.renewFraction, jitter: config.renewJitter },
    backoff: { initialMs: config.retryInitialMs, maxMs: config.retryMaxMs },
    ...(config.agentId ? { agentId: config.agentId } : {}),
    nodeIdleMs: config.nodeIdleTimeoutMs,
    socketPath: config.socket,
    log,
  });
  let http: HealthEndpoints | undefined;
  try {
    if (config.http) {
      const { host, port } = parseHostPort(config.http);
      http = await startHealthEndpoints({ host, port, metrics: agent.registry, ready: () => agent.notReadyReason(), notes: () => agent.notes() });
    }
    io.err(
      `castellan agent (${config.mode} mode) serving Envoy SDS and the SPIFFE Workload API on ${config.socket}` +
        `${http ? `, HTTP on port ${http.port}` : ''}; CA ${config.caAddr}\n`,
    );
    await stop;
    log.info('signal received; shutting down');
  } finally {
    await http?.close();
    await agent.close();
  }
}

/** Resolves on the first SIGTERM or SIGINT. */
function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
      resolve(sig);
    };
    const term = () => on('SIGTERM');
    const int = () => on('SIGINT');
    process.on('SIGTERM', term);
    process.on('SIGINT', int);
  });
}

/** `castellan agent`: the workload agent (docs/architecture.md §5). */
export function registerAgent(program: Command, io: CliIo): void {
  program
    .command('agent')
    .description('run the workload agent: get workload certificates from the CA and serve them to Envoy (SDS v3) and SPIFFE clients (Workload API) on a Unix socket')
    .option('--ca-addr <host:port>', 'CA gRPC address (env CASTELLAN_CA_ADDR)')
    .option('--ca-bundle <file>', "PEM roots that verify the CA's certificate, e.g. the CA's bundle.pem (env CASTELLAN_CA_BUNDLE)")
    .option('--ca-server-name <name>', "DNS name in the CA's certificate (env CASTELLAN_CA_SERVER_NAME; default: the host of --ca-addr, localhost for an IP)")
    .option('--token-file <file>', "the pod's projected service-account token, re-read for every request (env CASTELLAN_TOKEN_FILE); sidecar mode needs it")
    .option('--socket <path>', `Unix socket to serve on (env CASTELLAN_SOCKET; default ${DEFAULT_SOCKET})`)
    .option('--mode <mode>', 'sidecar (one pod, its token file) or node (every pod of a node, by the token each SDS stream sends) (env CASTELLAN_MODE; default sidecar)')
    .option('--key-type <type>', 'workload key type: ec-p256 or rsa-2048 (env CASTELLAN_KEY_TYPE; default ec-p256)')
    .option('--ttl <duration>', 'certificate lifetime to ask for, at least 1m, e.g. 24h, 90m (env CASTELLAN_TTL; default 24h; the CA may cap it)')
    .option('--http <host:port>', 'serve /healthz, /readyz and /metrics here (env CASTELLAN_HTTP; default: off)')
    .option('--agent-id <name>', 'name reported to the CA (env CASTELLAN_AGENT_ID; default: the host name)')
    .option(
      '--config <file>',
      'YAML/JSON configuration with the same fields in camelCase (caAddr, caBundle, tokenFile, ...) and renewFraction, renewJitter, retryInitial, retryMax, nodeIdleTimeout (env CASTELLAN_CONFIG)',
    )
    .addHelpText(
      'after',
      '\nPrecedence: flags, then CASTELLAN_* environment variables, then the config file, then defaults.\n' +
        'Keys are generated in memory and never written to disk; a new key for every certificate.\n' +
        'Rotation: renew at 50% of the lifetime (+/-10% jitter); on failure retry with capped exponential backoff\n' +
        '(1s doubling to 60s) and keep serving the current certificate until it really expires.\n' +
        'Node mode: Envoy sends its pod\'s token as "authorization: Bearer" metadata on the SDS stream; the CA decides\n' +
        "which identity it stands for, and a stream only ever gets its own token's identity.\n" +
        'Logs are JSON lines on stdout (CASTELLAN_LOG_LEVEL: fatal|error|warn|info|debug|trace|silent, default info;\n' +
        'CASTELLAN_LOG_FORMAT=text for one readable line per event); tokens appear only as SHA-256.\n' +
        "Memory: a sidecar agent runs without V8's JIT compilers, with a small young generation, and drops bytecode\n" +
        "unused since the last full GC; node mode keeps the compilers and V8's bytecode age.\n" +
        'CASTELLAN_AGENT_V8_FLAGS (V8 flags, empty for none) replaces these defaults.\n' +
        'SIGTERM/SIGINT: open streams end, the socket is removed, the process exits 0.',
    )
    .action(async (f: AgentFlags) => {
      const config = await agentConfigFrom(f, io);
      // Only for the process's own agent (cli/main.ts set the load-time flags under the same condition).
      if (io.env === process.env) setAgentRunV8Flags(config.mode, io.env);
      const log = createLogger(io, 'castellan-agent', (s) => io.out(s));
      await runAgent(config, io, log, waitForSignal());
    });
}

import { chmodSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Server, ServerCredentials, status as grpcStatus, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentV1, EnvoySecretV3, PreEncodedHandlers, SpiffeWorkload } from '../proto-types/index.js';
import { handleDeltaSecrets } from './delta-stream.js';
import { handleFetchSecrets } from './fetch-secrets.js';
import { workloadError } from './grpc-status.js';
import type { AgentStatusReport } from './agent-status.js';
import { AGENT_STATUS_SERVICE, agentProtos, methodOf, SDS_SERVICE, WORKLOAD_API_SERVICE } from './protos.js';
import { SdsMetrics } from './sds-metrics.js';
import type { SecretProvider, StreamCaller } from './secret-source.js';
import { SocketConnections } from './socket-connections.js';
import { handleStreamSecrets } from './sotw-stream.js';
import { handleFetchX509Bundles, handleFetchX509Svid } from './workload-api.js';
import { handleFetchJwtBundles, handleFetchJwtSvid, handleValidateJwtSvid } from './workload-api-jwt.js';
import { callToken, type WorkloadServerContext } from './workload-call.js';

export interface WorkloadSocketOptions {
  /** Unix socket path (docs/architecture.md §5 default `/var/run/castellan/sds.sock`); created with mode 0660. */
  socketPath: string;
  /** Who gets which identity, kept current by the agent. */
  provider: SecretProvider;
  log: Logger;
  /** Where the SDS metrics go (default: a private registry). */
  registry?: Registry;
  /** `sidecar` (default): one identity, no token. `node`: each call must carry its pod's bearer token. */
  mode?: 'sidecar' | 'node';
  /** A call whose first request has not arrived this long after it opened closes its connection, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** A connection without any call for this long is closed (clients reconnect when they need to), ms. Default 60000. */
  idleTimeoutMs?: number;
  /**
   * The agent's read-only status for a caller (`castellan.agent.v1.AgentStatus`, `castellan agent status`);
   * absent: the service is not offered. It must reveal to a caller only what that caller could obtain anyway.
   */
  status?: (caller: StreamCaller) => Promise<AgentStatusReport>;
}

export interface WorkloadSocket {
  /** Ends every open stream (status OK), stops the server and removes the socket file. Idempotent. */
  close(): Promise<void>;
  readonly socketPath: string;
  readonly metrics: SdsMetrics;
}

/** sun_path is 108 bytes on Linux, NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** Requests are small (names, a node); a bigger message is refused by grpc-js with RESOURCE_EXHAUSTED. */
const MAX_REQUEST_BYTES = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** A method whose responses the handlers hand over already encoded (see discovery-response.ts). */
function preEncoded(def: MethodDefinition<unknown, unknown>): MethodDefinition<unknown, Buffer> {
  return { ...def, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
}

/** Refuses a path held by a live server; removes a stale socket file left by a dead one. */
async function claimSocketPath(socketPath: string): Promise<void> {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) throw workloadError('ERR_SOCKET_PATH', `sds: socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
  let isSocket: boolean;
  try {
    isSocket = lstatSync(socketPath).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o750 });
    return;
  }
  if (!isSocket) throw workloadError('ERR_SOCKET_PATH', `sds: ${socketPath} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw workloadError('ERR_SOCKET_IN_USE', `sds: another process is serving ${socketPath}; stop it or choose another --socket`);
  unlinkSync(socketPath);
}

/**
 * Binds `listener` to `socketPath` so the socket is never reachable with a mode wider than 0660: a
 * Unix socket is created with the process umask (0777 & ~umask), so it is bound inside a fresh private
 * directory (mkdtemp: 0700) beside the final path, set to 0660 there, and renamed into place (rename(2)
 * is atomic within one file system; the listening socket keeps working under its new name). Changing
 * the umask instead would be process-wide, across an asynchronous bind, for every file the process creates.
 */
async function bindPrivately(listener: net.Server, socketPath: string): Promise<void> {
  const privateDir = mkdtempSync(path.join(path.dirname(socketPath), '.s'));
  try {
    const staged = path.join(privateDir, 's');
    if (Buffer.byteLength(staged) > MAX_SOCKET_PATH_BYTES) {
      throw workloadError('ERR_SOCKET_PATH', `sds: socket path ${socketPath} is too long: it is first bound as ${staged}, at most ${MAX_SOCKET_PATH_BYTES} bytes`);
    }
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(staged, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    chmodSync(staged, 0o660);
    renameSync(staged, socketPath);
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
}

/**
 * Serves Envoy SDS v3 (`StreamSecrets`, `DeltaSecrets`, `FetchSecrets`) and the SPIFFE Workload API
 * (`FetchX509SVID`, `FetchX509Bundles`, `FetchJWTSVID`, `FetchJWTBundles`, `ValidateJWTSVID`) on one Unix socket.
 *
 * @example
 *   const socket = await startWorkloadSocket({ socketPath: '/var/run/castellan/sds.sock', provider, log });
 *   // ... later
 *   await socket.close();
 */
export async function startWorkloadSocket(options: WorkloadSocketOptions): Promise<WorkloadSocket> {
  const { socketPath, provider, log } = options;
  const metrics = new SdsMetrics(options.registry);
  const open = new Set<() => void>();
  const ctx: WorkloadServerContext = {
    provider,
    log,
    metrics,
    mode: options.mode ?? 'sidecar',
    track(end) {
      open.add(end);
      return () => open.delete(end);
    },
  };

  const { sds, workload } = agentProtos();
  const sdsService: ServiceDefinition = {
    StreamSecrets: preEncoded(methodOf(sds, SDS_SERVICE, 'StreamSecrets')),
    DeltaSecrets: preEncoded(methodOf(sds, SDS_SERVICE, 'DeltaSecrets')),
    FetchSecrets: preEncoded(methodOf(sds, SDS_SERVICE, 'FetchSecrets')),
  };
  const workloadService: ServiceDefinition = {
    FetchX509SVID: preEncoded(methodOf(workload, WORKLOAD_API_SERVICE, 'FetchX509SVID')),
    FetchX509Bundles: preEncoded(methodOf(workload, WORKLOAD_API_SERVICE, 'FetchX509Bundles')),
    FetchJWTBundles: preEncoded(methodOf(workload, WORKLOAD_API_SERVICE, 'FetchJWTBundles')),
    FetchJWTSVID: methodOf(workload, WORKLOAD_API_SERVICE, 'FetchJWTSVID'),
    ValidateJWTSVID: methodOf(workload, WORKLOAD_API_SERVICE, 'ValidateJWTSVID'),
  };

  const connections = new SocketConnections({ requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, log });
  const server = new Server({
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    'grpc.max_connection_idle_ms': options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    // Channelz keeps per-connection and per-call records nobody here reads.
    'grpc.enable_channelz': 0,
    interceptors: [connections.interceptor],
  });
  // The handlers' request and response types are the generated ones; pre-encoded methods answer bytes.
  const sdsHandlers: PreEncodedHandlers<EnvoySecretV3.SecretDiscoveryServiceHandlers> = {
    StreamSecrets: (call) => handleStreamSecrets(ctx, call),
    DeltaSecrets: (call) => handleDeltaSecrets(ctx, call),
    FetchSecrets: (call, cb) => void handleFetchSecrets(ctx, call, cb),
  };
  server.addService(sdsService, sdsHandlers);
  const workloadHandlers: PreEncodedHandlers<SpiffeWorkload.SpiffeWorkloadAPIHandlers, 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles'> = {
    FetchX509SVID: (call) => handleFetchX509Svid(ctx, call),
    FetchX509Bundles: (call) => handleFetchX509Bundles(ctx, call),
    FetchJWTBundles: (call) => handleFetchJwtBundles(ctx, call),
    FetchJWTSVID: (call, cb) => handleFetchJwtSvid(ctx, call, cb),
    ValidateJWTSVID: (call, cb) => handleValidateJwtSvid(ctx, call, cb),
  };
  server.addService(workloadService, workloadHandlers);

  if (options.status) {
    const status = options.status;
    const statusHandlers: AgentV1.AgentStatusHandlers = {
      GetStatus: (call, cb) => {
        // The token is optional here (node mode without one shows no identity); it is never logged.
        const token = callToken(call.metadata);
        status(token !== undefined ? { token } : {}).then(
          (report) => cb(null, { statusJson: JSON.stringify(report) }),
          (err: unknown) => {
            log.error({ err }, 'agent status failed');
            cb({ code: grpcStatus.INTERNAL, details: 'internal error; see the agent log' });
          },
        );
      },
    };
    server.addService({ GetStatus: methodOf(agentProtos().agentStatus, AGENT_STATUS_SERVICE, 'GetStatus') }, statusHandlers);
  }

  await claimSocketPath(socketPath);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = net.createServer((socket) => connections.accept(socket, injector));
  await bindPrivately(listener, socketPath);
  listener.on('error', (err) => log.error({ err }, 'sds: socket listener error'));
  const ino = lstatSync(socketPath).ino;
  log.info({ socket: socketPath, mode: ctx.mode }, 'sds: serving Envoy SDS and the SPIFFE Workload API');

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    metrics,
    close() {
      closing ??= (async () => {
        listener.close();
        for (const end of [...open]) end();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2000);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        connections.destroyAll();
        try {
          if (lstatSync(socketPath).ino === ino) unlinkSync(socketPath);
        } catch {
          // Already gone.
        }
        log.info({ socket: socketPath }, 'sds: socket closed');
      })();
      return closing;
    },
  };
}

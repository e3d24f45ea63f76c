import type { Metadata, ServerDuplexStream, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { bearerToken, tokenSha256 } from '../workload-identity/index.js';
import { workloadCallError, workloadError } from './grpc-status.js';
import type { SecretProvider, SecretWatch, StreamCaller } from './secret-source.js';
import type { SdsMetrics, WorkloadApi } from './sds-metrics.js';

/** What every handler of the workload socket shares. */
export interface WorkloadServerContext {
  readonly provider: SecretProvider;
  readonly log: Logger;
  readonly metrics: SdsMetrics;
  readonly mode: 'sidecar' | 'node';
  /** Called when a stream starts; the returned function when it ends (so the socket can end it on close). */
  track(end: () => void): () => void;
}

type AnyCall = ServerDuplexStream<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerUnaryCall<unknown, unknown>;

/** `authorization: Bearer <token>` (RFC 6750 §2.1): the first such value of the call. */
export function callToken(metadata: Metadata): string | undefined {
  for (const value of metadata.get('authorization')) {
    const token = bearerToken(String(value));
    if (token !== undefined) return token;
  }
  return undefined;
}

/**
 * The caller of a call. Node mode: Envoy sends its pod's token as call credentials and a call without
 * one is refused (ERR_TOKEN_MISSING → UNAUTHENTICATED). Sidecar mode ignores any token: the pod has one
 * identity and the socket's file mode is the access control.
 */
export function streamCaller(ctx: WorkloadServerContext, call: AnyCall): StreamCaller {
  const peer = call.getPeer();
  if (ctx.mode === 'sidecar') return peer ? { peer } : {};
  const token = callToken(call.metadata);
  if (!token) throw workloadError('ERR_TOKEN_MISSING', "sds: node mode needs the pod's service-account token as `authorization: Bearer <token>` call metadata");
  return peer ? { token, peer } : { token };
}

/** Log fields naming a caller (the token only as its SHA-256). */
export function callerFields(caller: StreamCaller): Record<string, string> {
  return caller.token === undefined ? {} : { tokenSha256: tokenSha256(caller.token) };
}

/** Ends a call with the status `err` maps to, logs why and counts it. */
export function failCall(
  ctx: WorkloadServerContext,
  api: WorkloadApi,
  call: ServerDuplexStream<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  err: unknown,
  fields: Record<string, unknown> = {},
): void {
  const e = workloadCallError(err);
  ctx.metrics.rejected.inc({ api, reason: e.reason });
  const level = e.reason === 'ERR_INTERNAL' ? 'error' : 'warn';
  ctx.log[level]({ api, reason: e.reason, status: e.code, ...fields, ...(e.reason === 'ERR_INTERNAL' ? { err } : { detail: e.details }) }, 'sds: call refused');
  if (call.cancelled) return;
  call.emit('error', { code: e.code, details: e.details });
}

/**
 * Resolves the caller's watch for a stream. Undefined when the call was refused (already answered with
 * its status) or ended while waiting (the watch, if any, is closed).
 */
export async function openWatch(
  ctx: WorkloadServerContext,
  api: WorkloadApi,
  call: ServerDuplexStream<unknown, unknown> | ServerWritableStream<unknown, unknown>,
): Promise<{ watch: SecretWatch; caller: StreamCaller } | undefined> {
  let caller: StreamCaller;
  try {
    caller = streamCaller(ctx, call);
  } catch (err) {
    failCall(ctx, api, call, err);
    return undefined;
  }
  const abort = new AbortController();
  const onCancel = () => abort.abort();
  call.once('cancelled', onCancel);
  try {
    const watch = await ctx.provider.watch(caller, abort.signal);
    call.off('cancelled', onCancel);
    if (call.cancelled) {
      watch.close();
      return undefined;
    }
    return { watch, caller };
  } catch (err) {
    call.off('cancelled', onCancel);
    failCall(ctx, api, call, err, callerFields(caller));
    return undefined;
  }
}

/**
 * What a stream does when serving its opened watch throws (a bug, or a snapshot that cannot be encoded):
 * that one call fails INTERNAL and is logged at error; the stream releases its watch; the agent and its
 * other streams carry on (an unhandled rejection would end the process).
 *
 * @example void openWatch(ctx, api, call).then(serve).catch((err) => failOpened(ctx, api, call, err, end));
 */
export function failOpened(
  ctx: WorkloadServerContext,
  api: WorkloadApi,
  call: ServerDuplexStream<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  err: unknown,
  end: () => void,
): void {
  try {
    failCall(ctx, api, call, err);
  } finally {
    end();
  }
}

/** A long-lived stream's lifecycle; see trackStream. */
export interface TrackedStream {
  /** Ends the stream's bookkeeping once (the metric, what it holds, the socket's tracking). */
  end(): void;
  readonly ended: boolean;
}

/**
 * Counts a long-lived stream in the metrics, lets the socket end it when it closes, and ends it once,
 * whatever comes first: the client cancels, the call fails, the client half-closes a bidirectional
 * stream (answered by ending ours), or the socket closes. `release` frees what the stream holds (its
 * watch, its change subscription); it may read variables the handler assigns later.
 *
 * @example const s = trackStream(ctx, 'sds_sotw', call, () => { unsubscribe?.(); watch?.close(); }); ... if (s.ended) return;
 */
export function trackStream(
  ctx: WorkloadServerContext,
  api: WorkloadApi,
  call: ServerDuplexStream<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  release: () => void,
): TrackedStream {
  let ended = false;
  ctx.metrics.streams.inc({ api });
  const end = () => {
    if (ended) return;
    ended = true;
    ctx.metrics.streams.dec({ api });
    release();
    untrack();
  };
  const untrack = ctx.track(() => {
    end();
    if (!call.cancelled) call.end();
  });
  call.on('cancelled', end);
  call.on('error', end);
  if ('read' in call) {
    call.on('end', () => {
      end();
      call.end();
    });
  }
  return {
    end,
    get ended() {
      return ended;
    },
  };
}

import { status, type handleServerStreamingCall, type handleUnaryCall, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { callErrorFor, callStatus, type CallError } from './grpc-status.js';

/**
 * The two shapes of the CA's gRPC handlers (docs/architecture.md §4): a unary method is an async
 * function from its call to its response, a server stream an async function that opens the stream. The
 * adapters here refuse calls while the server is not ready, map every failure to its status with the
 * stable code as trailing metadata (`callErrorFor`, `callStatus`) and log refusals, once for all methods.
 */
export interface CallAdapterContext {
  readonly log: Logger;
  /** Throws ERR_NOT_READY while the server cannot answer (starting, draining, serving certificate expired). */
  readonly refuseIfNotReady: () => void;
}

export interface UnaryOptions<Req, Res> {
  /**
   * Who logs a refusal: `adapter` (default) one line per refused call; `pipeline` nobody here, because
   * the issuance pipelines log (and record in the ledger) their own refusals.
   */
  readonly refusals?: 'adapter' | 'pipeline';
  /** Extra fields of the refusal's log line (never a token itself: its SHA-256). */
  readonly logFields?: (call: ServerUnaryCall<Req, Res>) => Record<string, unknown>;
  /** Answered while the server is not ready (GetHealth: saying why is its point). */
  readonly whenNotReady?: boolean;
}

/**
 * Logs a refused call: at info with the reason and the message the caller got; INTERNAL (the CA's own
 * failure) at error with the error itself. Returns how the call is answered.
 */
export function logRefusal(log: Logger, method: string, peer: string, err: unknown, fields: Record<string, unknown> = {}): CallError {
  const e = callErrorFor(err);
  const line = { event: 'refused', method, reason: e.reason, peer, ...fields };
  if (e.code === status.INTERNAL) log.error({ ...line, err }, 'call failed');
  else log.info({ ...line, detail: (err as Error).message }, 'call refused');
  return e;
}

/**
 * A unary gRPC handler from `handle`: its result is the response, a thrown error the call's status.
 *
 * @example Sign: unaryMethod(ctx, 'Sign', (call) => this.sign(call), { refusals: 'pipeline' })
 */
export function unaryMethod<Req, Res>(
  ctx: CallAdapterContext,
  method: string,
  handle: (call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  o: UnaryOptions<Req, Res> = {},
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const refuse = (err: unknown) => {
      const e = o.refusals === 'pipeline' ? callErrorFor(err) : logRefusal(ctx.log, method, call.getPeer(), err, o.logFields?.(call));
      callback(callStatus(e));
    };
    try {
      if (!o.whenNotReady) ctx.refuseIfNotReady();
    } catch (err) {
      refuse(err);
      return;
    }
    handle(call).then((res) => callback(null, res), refuse);
  };
}

/**
 * A server-streaming gRPC handler from `open`, which authenticates the caller, writes the first
 * messages and subscribes the stream to what follows; a thrown error ends the call with its status.
 *
 * @example WatchTrustBundle: serverStreamMethod(ctx, 'WatchTrustBundle', (call) => this.watchTrustBundle(call))
 */
export function serverStreamMethod<Req, Res>(
  ctx: CallAdapterContext,
  method: string,
  open: (call: ServerWritableStream<Req, Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const run = async () => {
      ctx.refuseIfNotReady();
      await open(call);
    };
    run().catch((err: unknown) => {
      const e = logRefusal(ctx.log, method, call.getPeer(), err);
      // grpc-js: an 'error' emitted on a server stream becomes the call's status.
      call.emit('error', Object.assign(new Error(e.details), callStatus(e)));
    });
  };
}

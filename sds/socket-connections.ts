import type net from 'node:net';
import { ServerInterceptingCall, type Server, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/** What a call's peer looks like on the workload socket: `unix-socket:<connection number>`. */
export const CONNECTION_PEER_PREFIX = 'unix-socket';

type Injector = ReturnType<Server['createConnectionInjector']>;

/**
 * The connections of the workload socket. The socket is accepted here and handed to grpc-js
 * (`Server.createConnectionInjector`) so that each connection is known:
 * - it gets a number, visible to handlers as the call's peer (`unix-socket:7`): a Unix socket has no
 *   address, and node mode shares its token checks fairly by connection (token-proof-guard.ts);
 * - a call whose first request message has not arrived `requestTimeoutMs` after its headers closes
 *   its connection (grpc-js cannot reset one HTTP/2 stream, and such a call only holds memory).
 * Idle connections are closed by grpc-js (`grpc.max_connection_idle_ms`).
 *
 * @example
 *   const conns = new SocketConnections({ requestTimeoutMs: 10_000, log });
 *   const server = new Server({ interceptors: [conns.interceptor] });
 *   listener.on('connection', (s) => conns.accept(s, injector));
 */
export class SocketConnections {
  private readonly sockets = new Map<number, net.Socket>();
  private next = 0;
  readonly interceptor: ServerInterceptor;

  constructor(private readonly o: { readonly requestTimeoutMs: number; readonly log: Logger }) {
    this.interceptor = (method, call) => {
      let timer: NodeJS.Timeout | undefined;
      const clear = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
      };
      return new ServerInterceptingCall(call, {
        start: (next) => {
          const id = call.getConnectionInfo().remotePort;
          timer = setTimeout(() => {
            timer = undefined;
            const socket = id === undefined ? undefined : this.sockets.get(id);
            if (!socket || socket.destroyed) return;
            this.o.log.warn(
              { peer: call.getPeer(), method: method.path, requestTimeoutMs: this.o.requestTimeoutMs },
              "sds: a call's first request did not arrive in time; closing its connection",
            );
            socket.destroy();
          }, this.o.requestTimeoutMs);
          timer.unref();
          next({
            onReceiveMessage: (message, pass) => {
              clear();
              pass(message);
            },
            onReceiveHalfClose: (pass) => {
              clear();
              pass();
            },
            onCancel: () => clear(),
          });
        },
      });
    };
  }

  /** Numbers `socket`, tracks it until it closes, and gives it to the gRPC server. */
  accept(socket: net.Socket, injector: Injector): void {
    const id = ++this.next;
    // grpc-js names a call's peer `${remoteAddress}:${remotePort}` from the session's socket; a Unix
    // socket has neither, so they are set on this socket object (Node's own getters are shadowed).
    Object.defineProperty(socket, 'remoteAddress', { value: CONNECTION_PEER_PREFIX, configurable: true });
    Object.defineProperty(socket, 'remotePort', { value: id, configurable: true });
    this.sockets.set(id, socket);
    socket.once('close', () => this.sockets.delete(id));
    socket.on('error', () => undefined);
    injector.injectConnection(socket);
  }

  /** Open connections now. */
  get size(): number {
    return this.sockets.size;
  }

  /** Closes every connection still open. */
  destroyAll(): void {
    for (const s of this.sockets.values()) s.destroy();
  }
}

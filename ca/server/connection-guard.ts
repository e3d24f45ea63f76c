import net from 'node:net';
import { ServerInterceptingCall, type Server, type ServerCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';

export interface ConnectionGuardOptions {
  /** Open connections from one remote IP address; a connection beyond it is closed at once. */
  readonly maxPerPeer: number;
  /**
   * How long after a call's headers its request message may take to arrive, ms. Past it the call's
   * whole connection is closed: a client that opens calls and never sends them holds server memory
   * for nothing, and grpc-js cannot reset one HTTP/2 stream from a handler or interceptor.
   */
  readonly requestTimeoutMs: number;
  /** Counts connections the guard closed, by reason (`per_peer_limit`, `request_timeout`). */
  readonly closed?: Counter<'reason'>;
  readonly log: Logger;
}

/**
 * The CA's listening socket (docs/architecture.md §4): it accepts TCP connections itself and hands them to grpc-js
 * (`Server.createConnectionInjector`), so that it knows each connection and can bound them by peer
 * and close those that stall. The TLS handshake bound is the credentials' `handshakeTimeout` (Node
 * `tls.Server`), idleness and age are grpc-js options (`grpc.max_connection_idle_ms`,
 * `grpc.max_connection_age_ms`); what grpc-js has no option for is done here: a per-address
 * connection limit and a deadline for a call's request message.
 *
 * @example
 *   const guard = new ConnectionGuard({ maxPerPeer: 256, requestTimeoutMs: 10_000, log });
 *   const server = new Server({ interceptors: [guard.interceptor] });
 *   const port = await guard.listen(server, credentials, '127.0.0.1', 15012);
 */
export class ConnectionGuard {
  /** `ip|port` of the remote end → the accepted socket (what a call's connection info names). */
  private readonly sockets = new Map<string, net.Socket>();
  private readonly perPeer = new Map<string, number>();
  private listener: net.Server | undefined;
  readonly interceptor: ServerInterceptor;

  constructor(private readonly o: ConnectionGuardOptions) {
    this.interceptor = (method, call) => {
      let timer: NodeJS.Timeout | undefined;
      const clear = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
      };
      return new ServerInterceptingCall(call, {
        start: (next) => {
          const info = call.getConnectionInfo();
          timer = setTimeout(() => {
            timer = undefined;
            const socket = this.sockets.get(`${info.remoteAddress}|${info.remotePort}`);
            if (!socket || socket.destroyed) return;
            this.o.closed?.inc({ reason: 'request_timeout' });
            this.o.log.warn(
              { peer: call.getPeer(), method: method.path, requestTimeoutMs: this.o.requestTimeoutMs },
              "a call's request did not arrive in time; closing its connection",
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

  /** Listens on `host:port` (0: any free port) and feeds every accepted connection to `server`; resolves with the port. */
  async listen(server: Server, credentials: ServerCredentials, host: string, port: number): Promise<number> {
    const injector = server.createConnectionInjector(credentials);
    const listener = net.createServer((socket) => this.accept(socket, injector));
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host, port }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (err) => this.o.log.error({ err }, 'listener error'));
    return (listener.address() as net.AddressInfo).port;
  }

  /** Open connections now. */
  get size(): number {
    return this.sockets.size;
  }

  /** Stops accepting connections (open ones are left to the gRPC server's shutdown). */
  stopAccepting(): void {
    this.listener?.close();
  }

  /** Closes every connection still open (after the gRPC server's grace period). */
  destroyAll(): void {
    for (const s of this.sockets.values()) s.destroy();
  }

  private accept(socket: net.Socket, injector: ReturnType<Server['createConnectionInjector']>): void {
    const ip = socket.remoteAddress ?? '';
    const key = `${ip}|${socket.remotePort}`;
    const open = this.perPeer.get(ip) ?? 0;
    if (open >= this.o.maxPerPeer) {
      this.o.closed?.inc({ reason: 'per_peer_limit' });
      this.o.log.debug({ peer: ip, maxConnectionsPerPeer: this.o.maxPerPeer }, 'connection refused: too many connections from this address');
      socket.destroy();
      return;
    }
    this.perPeer.set(ip, open + 1);
    this.sockets.set(key, socket);
    socket.once('close', () => {
      this.sockets.delete(key);
      const n = (this.perPeer.get(ip) ?? 1) - 1;
      if (n > 0) this.perPeer.set(ip, n);
      else this.perPeer.delete(ip);
    });
    // Errors of a socket are the TLS layer's to report (and grpc-js ignores them): never crash on one.
    socket.on('error', () => undefined);
    injector.injectConnection(socket);
  }
}

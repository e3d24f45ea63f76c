import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { caProtos } from '../../ca/server/protos.js';

/** A gRPC client of both CA services over TLS, trusting `rootsPem` and expecting `localhost` in the server's certificate. */
export function caClients(address: string, rootsPem: string, client?: { key: string; cert: string }) {
  const p = caProtos();
  const creds = credentials.createSsl(Buffer.from(rootsPem), client ? Buffer.from(client.key) : null, client ? Buffer.from(client.cert) : null);
  const options = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
  const istio = new p.istio(address, creds, options);
  const castellan = new p.castellan(address, creds, options);
  return {
    istio,
    castellan,
    close() {
      istio.close();
      castellan.close();
    },
  };
}

export interface CallResult<T> {
  code: number;
  details?: string;
  response?: T;
}

/** Calls a unary method; resolves with the status code (0 = OK) instead of throwing. */
export function unary<T>(client: Client, method: string, request: unknown, token?: string, deadlineMs = 10_000): Promise<CallResult<T>> {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    (client as unknown as Record<string, (r: unknown, m: Metadata, o: object, cb: (e: ServiceError | null, r?: T) => void) => void>)[method]!(
      request,
      md,
      { deadline: Date.now() + deadlineMs },
      (err, response) => resolve(err ? { code: err.code, details: err.details } : { code: 0, ...(response !== undefined ? { response } : {}) }),
    );
  });
}

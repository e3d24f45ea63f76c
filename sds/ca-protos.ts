import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { CaGrpcType } from '../proto-types/index.js';

/** The repository's `proto/` folder, found from this module whether it runs from source or dist/. */
function protoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, 'castellan', 'ca', 'v1', 'ca.proto'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('sds: cannot find proto/castellan/ca/v1/ca.proto next to the castellan package');
}

/** Loader options: the CA's own (ca/server/protos.ts), for which the types in proto-types/ are generated (a test compares them). */
export const CA_CLIENT_PROTO_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

/** The typed client constructor of `castellan.ca.v1.CertificateAuthority`. */
export type CaServiceClient = CaGrpcType['castellan']['ca']['v1']['CertificateAuthority'];

let cached: CaServiceClient | undefined;

/**
 * The client constructor of `castellan.ca.v1.CertificateAuthority` (proto/castellan/ca/v1/ca.proto).
 * Loaded here rather than taken from ca/: the agent talks to the CA only over the wire.
 *
 * @example const Client = caServiceClient(); const c = new Client('ca:15012', creds); c.Sign({ csr }, md, cb);
 */
export function caServiceClient(): CaServiceClient {
  if (cached) return cached;
  const def = loadSync('castellan/ca/v1/ca.proto', { ...CA_CLIENT_PROTO_OPTIONS, includeDirs: [protoDir()] });
  // The generated type describes exactly this load (the castellan.ca.v1 part of CaGrpcType: same file, same options).
  const pkg = loadPackageDefinition(def) as unknown as Pick<CaGrpcType, 'castellan'>;
  cached = pkg.castellan.ca.v1.CertificateAuthority;
  return cached;
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

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

let cached: ServiceClientConstructor | undefined;

/**
 * The client constructor of `castellan.ca.v1.CertificateAuthority` (proto/castellan/ca/v1/ca.proto).
 * Loaded here rather than taken from ca/: the agent talks to the CA only over the wire.
 *
 * @example const Client = caServiceClient(); const c = new Client('ca:15012', creds);
 */
export function caServiceClient(): ServiceClientConstructor {
  if (cached) return cached;
  const def = loadSync('castellan/ca/v1/ca.proto', { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [protoDir()] });
  const pkg = loadPackageDefinition(def);
  cached = ['castellan', 'ca', 'v1', 'CertificateAuthority'].reduce<unknown>((o, k) => (o as GrpcObject)[k], pkg) as ServiceClientConstructor;
  return cached;
}

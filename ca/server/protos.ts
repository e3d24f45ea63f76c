import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { CaGrpcType } from '../../proto-types/index.js';

/** The repository's `proto/` folder, found from this module whether it runs from source or from dist/. */
export function protoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, 'castellan'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('protos: cannot find the proto/ folder next to the castellan package');
}

/**
 * Loader options shared by servers and test clients: int64 as JS numbers (lifetimes fit easily). The
 * types in proto-types/ are generated with these very options (a test compares them).
 */
export const PROTO_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

type CaV1Package = CaGrpcType['castellan']['ca']['v1'];

/** Client constructors of the CA's services, typed by the generated CaGrpcType; each has the `service` definition a server adds. */
export interface CaProtos {
  readonly istio: CaGrpcType['istio']['v1']['auth']['IstioCertificateService'];
  readonly castellan: CaV1Package['CertificateAuthority'];
  readonly rootAdmin: CaV1Package['RootAdmin'];
}

let cached: CaProtos | undefined;

/**
 * The CA's two gRPC services: Istio's `istio.v1.auth.IstioCertificateService` and Castellan's
 * `castellan.ca.v1.CertificateAuthority`.
 */
export function caProtos(): CaProtos {
  if (cached) return cached;
  const root = protoRoot();
  const def = loadSync(['istio/v1/auth/ca.proto', 'castellan/ca/v1/ca.proto'], { ...PROTO_OPTIONS, includeDirs: [root] });
  // The generated type describes exactly this load (same files, same options): the one place it is asserted.
  const pkg = loadPackageDefinition(def) as unknown as CaGrpcType;
  cached = { istio: pkg.istio.v1.auth.IstioCertificateService, castellan: pkg.castellan.ca.v1.CertificateAuthority, rootAdmin: pkg.castellan.ca.v1.RootAdmin };
  return cached;
}

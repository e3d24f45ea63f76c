import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

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

/** Loader options shared by servers and test clients: int64 as JS numbers (lifetimes fit easily). */
export const PROTO_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

export interface CaProtos {
  readonly istio: ServiceClientConstructor;
  readonly castellan: ServiceClientConstructor;
  readonly rootAdmin: ServiceClientConstructor;
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
  const pkg = loadPackageDefinition(def);
  const at = (dotted: string) => dotted.split('.').reduce<unknown>((o, k) => (o as GrpcObject)[k], pkg) as ServiceClientConstructor;
  cached = { istio: at('istio.v1.auth.IstioCertificateService'), castellan: at('castellan.ca.v1.CertificateAuthority'), rootAdmin: at('castellan.ca.v1.RootAdmin') };
  return cached;
}

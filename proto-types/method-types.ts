import type { MethodDefinition } from '@grpc/proto-loader';

/**
 * The method names of a generated service definition (e.g. `CaV1.RootAdminDefinition`), without the
 * index signature every `ServiceDefinition` carries.
 *
 * @example type M = MethodName<CaV1.RootAdminDefinition>; // 'GetRootStatus' | 'PrepareRoot' | ...
 */
export type MethodName<D> = keyof { [K in keyof D as string extends K ? never : number extends K ? never : K]: D[K] } & string;

/** What a client may send to method `M` of service definition `D` (the permissive message type). */
export type RequestOf<D, M extends keyof D> = D[M] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer _ResOut> ? Req : never;

/** What a client receives from method `M` of service definition `D`, as grpc-js decodes it. */
export type ResponseOf<D, M extends keyof D> = D[M] extends MethodDefinition<infer _Req, infer _Res, infer _ReqOut, infer ResOut> ? ResOut : never;

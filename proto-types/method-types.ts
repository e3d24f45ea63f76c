import type { handleBidiStreamingCall, handleServerStreamingCall, handleUnaryCall } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';

/**
 * The method names of a generated service definition (e.g. `CaV1.RootAdminDefinition`), without the
 * index signature every `ServiceDefinition` carries.
 *
 * @example type M = MethodName<CaV1.RootAdminDefinition>; // 'GetRootStatus' | 'PrepareRoot' | ...
 */
export type MethodName<D> = keyof { [K in keyof D as string extends K ? never : number extends K ? never : K]: D[K] } & string;

/** What a client may send to method `M` of service definition `D` (the permissive message type). */
export type RequestOf<D, M extends PropertyKey> = M extends keyof D ? (D[M] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer _ResOut> ? Req : never) : never;

/** What a client receives from method `M` of service definition `D`, as grpc-js decodes it. */
export type ResponseOf<D, M extends PropertyKey> = M extends keyof D
  ? D[M] extends MethodDefinition<infer _Req, infer _Res, infer _ReqOut, infer ResOut>
    ? ResOut
    : never
  : never;

/**
 * What `Client.makeUnaryRequest` needs to call each method of service definition `D`: its path and its
 * own serializers, typed per method so that one generic call site stays typed for every method.
 *
 * @example const calls: UnaryCalls<CaV1.RootAdminDefinition> = RootAdmin.service; const c = calls[method];
 *          client.makeUnaryRequest(c.path, c.requestSerialize, c.responseDeserialize, request, md, {}, cb);
 */
export type UnaryCalls<D> = {
  readonly [K in MethodName<D>]: {
    readonly path: string;
    readonly requestSerialize: (value: RequestOf<D, K>) => Buffer;
    readonly responseDeserialize: (data: Buffer) => ResponseOf<D, K>;
  };
};

/** A handler of the same kind as `H` answering encoded bytes (a pass-through response serializer sends them as they are). */
type Encoded<H> =
  H extends handleUnaryCall<infer Req, infer _Res>
    ? handleUnaryCall<Req, Buffer>
    : H extends handleServerStreamingCall<infer Req, infer _Res>
      ? handleServerStreamingCall<Req, Buffer>
      : H extends handleBidiStreamingCall<infer Req, infer _Res>
        ? handleBidiStreamingCall<Req, Buffer>
        : never;

/**
 * The generated handlers `H` of a service whose methods `M` answer their response messages already
 * encoded (a server that encodes a response once for many calls registers a pass-through serializer).
 *
 * @example const sds: PreEncodedHandlers<EnvoySecretV3.SecretDiscoveryServiceHandlers> = { StreamSecrets: (call) => call.write(bytes), ... };
 */
export type PreEncodedHandlers<H, M extends MethodName<H> = MethodName<H>> = { [K in MethodName<H>]: K extends M ? Encoded<H[K]> : H[K] };

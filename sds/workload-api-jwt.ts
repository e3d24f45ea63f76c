import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { SpiffeWorkload } from '../proto-types/index.js';
import { CastellanError, jwtBundleJwks, type TrustDomain, validateJwtSvid, type JwtAuthority } from '../workload-identity/index.js';
import { workloadCallError, workloadError } from './grpc-status.js';
import { agentProtos, methodOf, WORKLOAD_API_SERVICE } from './protos.js';
import type { IdentitySnapshot } from './secret-source.js';
import type { WorkloadApi } from './sds-metrics.js';
import { callerFields, streamCaller, type WorkloadServerContext } from './workload-call.js';
import { serveWorkloadStream, WORKLOAD_HEADER } from './workload-api.js';

/**
 * The SPIFFE Workload API's JWT-SVID profile (SPIFFE Workload API §6): FetchJWTSVID, FetchJWTBundles,
 * ValidateJWTSVID, authorized per workload exactly as the X.509 methods (docs/jwt-svid.md).
 */

/** Requests are checked here before the CA sees them (the CA checks again): the CA's own bounds. */
const MAX_AUDIENCES = 16;
const MAX_AUDIENCE_BYTES = 512;

const bundlesCache = new WeakMap<IdentitySnapshot, Buffer>();

/** `JWTBundlesResponse` for a snapshot: every trust domain's JWT keys as a JWK Set, encoded once. */
function jwtBundlesResponse(s: IdentitySnapshot): Buffer {
  let hit = bundlesCache.get(s);
  if (!hit) {
    // SPIFFE Workload API §6.2.2: keyed by trust domain ID, JWT-SVID keys only, own domain always present.
    const bundles = Object.fromEntries(s.bundles.map((b) => [b.trustDomain.idString(), Buffer.from(jwtBundleJwks(b.jwtAuthorities ?? []))]));
    const message: SpiffeWorkload.JWTBundlesResponse = { bundles };
    hit = methodOf(agentProtos().workload, WORKLOAD_API_SERVICE, 'FetchJWTBundles').responseSerialize(message);
    bundlesCache.set(s, hit);
  }
  return hit;
}

/** `/SpiffeWorkloadAPI/FetchJWTBundles`: the JWT bundles of every trusted domain; a new message when one changes. */
export function handleFetchJwtBundles(ctx: WorkloadServerContext, call: ServerWritableStream<SpiffeWorkload.JWTBundlesRequest__Output, Buffer>): void {
  serveWorkloadStream(ctx, 'jwt_bundles', call, jwtBundlesResponse, (changed) => changed.has('bundle'));
}

/** Runs a unary Workload API call: the header check, errors mapped to their status, logged and counted. */
async function unary<Req, Res>(
  ctx: WorkloadServerContext,
  api: WorkloadApi,
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>,
  run: () => Promise<Res>,
): Promise<void> {
  try {
    if (!call.metadata.get(WORKLOAD_HEADER).some((v) => String(v) === 'true')) {
      throw workloadError('ERR_WORKLOAD_HEADER_MISSING', `sds: the Workload API needs the metadata "${WORKLOAD_HEADER}: true"`);
    }
    const res = await run();
    ctx.metrics.pushes.inc({ api });
    callback(null, res);
  } catch (err) {
    const e = workloadCallError(err);
    ctx.metrics.rejected.inc({ api, reason: e.reason });
    let fields: Record<string, string> = {};
    try {
      fields = callerFields(streamCaller(ctx, call));
    } catch {
      // No token: nothing to add.
    }
    ctx.log[e.reason === 'ERR_INTERNAL' ? 'error' : 'info'](
      { api, reason: e.reason, status: e.code, ...fields, ...(e.reason === 'ERR_INTERNAL' ? { err } : { detail: e.details }) },
      'sds: call refused',
    );
    callback({ code: e.code, details: e.details });
  }
}

/** `/SpiffeWorkloadAPI/FetchJWTSVID`: a JWT-SVID of the caller's identity for the audience asked. */
export function handleFetchJwtSvid(
  ctx: WorkloadServerContext,
  call: ServerUnaryCall<SpiffeWorkload.JWTSVIDRequest__Output, SpiffeWorkload.JWTSVIDResponse>,
  callback: sendUnaryData<SpiffeWorkload.JWTSVIDResponse>,
): void {
  void unary(ctx, 'jwt_svid', call, callback, async () => {
    const audience = checkAudience(call.request.audience);
    const caller = streamCaller(ctx, call);
    const fetch = ctx.provider.fetchJwtSvid?.bind(ctx.provider);
    if (!fetch) throw new CastellanError('ERR_JWT_UNSUPPORTED', 'sds: this agent does not issue JWT-SVIDs');
    const wanted = call.request.spiffeId;
    if (wanted !== '') {
      // SPIFFE Workload API §6.2.1: only an identity the caller is entitled to.
      const watch = await ctx.provider.watch(caller);
      const own = (() => {
        try {
          return watch.current().svid.id.toString();
        } finally {
          watch.close();
        }
      })();
      if (own !== wanted) throw new CastellanError('ERR_PERMISSION_DENIED', `sds: this workload is ${own}, not ${wanted.slice(0, 200)}`);
    }
    const jwt = await fetch(caller, audience);
    ctx.log.debug({ api: 'jwt_svid', spiffeId: jwt.id.toString(), audience, expiresAt: jwt.expiresAt.toISOString(), ...callerFields(caller) }, 'sds: JWT-SVID served');
    return { svids: [{ spiffeId: jwt.id.toString(), svid: jwt.token, hint: '' }] };
  });
}

/**
 * `/SpiffeWorkloadAPI/ValidateJWTSVID`: validates a JWT-SVID for the audience against the bundle of its
 * subject's trust domain (own or federated) and answers its SPIFFE ID and claims. An invalid token is
 * INVALID_ARGUMENT, as SPIRE answers.
 */
export function handleValidateJwtSvid(
  ctx: WorkloadServerContext,
  call: ServerUnaryCall<SpiffeWorkload.ValidateJWTSVIDRequest__Output, SpiffeWorkload.ValidateJWTSVIDResponse>,
  callback: sendUnaryData<SpiffeWorkload.ValidateJWTSVIDResponse>,
): void {
  void unary(ctx, 'jwt_validate', call, callback, async () => {
    const { audience, svid } = call.request;
    if (!audience) throw new CastellanError('ERR_JWT_REQUEST', 'sds: ValidateJWTSVID needs an audience');
    if (!svid) throw new CastellanError('ERR_JWT_REQUEST', 'sds: ValidateJWTSVID needs an svid (the token)');
    const watch = await ctx.provider.watch(streamCaller(ctx, call));
    let bundles: ReadonlyMap<string, readonly JwtAuthority[]>;
    try {
      const all = watch.current().bundles;
      // The own bundle came with a certificate only (the CA's bundle stream is not open yet): the JWT keys are unknown, not absent.
      if (all[0] && all[0].jwtAuthorities === undefined)
        throw new CastellanError('ERR_NOT_READY', "sds: the agent has not received its trust domain's JWT-SVID keys from the CA yet; retry");
      bundles = new Map(all.map((b) => [b.trustDomain.name, b.jwtAuthorities ?? []]));
    } finally {
      watch.close();
    }
    const v = validateJwtSvid(svid, audience, (td: TrustDomain) => bundles.get(td.name), new Date());
    return { spiffeId: v.spiffeId.toString(), claims: structOf(v.claims) };
  });
}

function checkAudience(audience: readonly string[]): string[] {
  if (audience.length === 0 || audience.some((a) => a === ''))
    throw new CastellanError('ERR_JWT_REQUEST', 'sds: FetchJWTSVID needs at least one non-empty audience (JWT-SVID §3.2)');
  if (audience.length > MAX_AUDIENCES || audience.some((a) => Buffer.byteLength(a) > MAX_AUDIENCE_BYTES)) {
    throw new CastellanError('ERR_JWT_REQUEST', `sds: at most ${MAX_AUDIENCES} audiences of at most ${MAX_AUDIENCE_BYTES} bytes each`);
  }
  return [...audience];
}

/** `google.protobuf.Struct` and `Value` as the Workload API's loader takes them. */
type Struct = NonNullable<SpiffeWorkload.ValidateJWTSVIDResponse['claims']>;
type Value = NonNullable<Struct['fields']>[string];

/** A JSON value as `google.protobuf.Value` fields (the claims of ValidateJWTSVIDResponse). */
function protobufValueOf(v: unknown): Value {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(protobufValueOf) } };
  return { structValue: structOf(v as Record<string, unknown>) };
}

function structOf(o: Readonly<Record<string, unknown>>): Struct {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, protobufValueOf(v)])) };
}

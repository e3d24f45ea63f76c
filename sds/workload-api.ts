import type { ServerWritableStream } from '@grpc/grpc-js';
import type { SpiffeWorkload } from '../proto-types/index.js';
import type { TrustBundle } from '../workload-identity/index.js';
import { workloadError } from './grpc-status.js';
import { agentProtos, methodOf, WORKLOAD_API_SERVICE } from './protos.js';
import type { IdentitySnapshot, SecretChange } from './secret-source.js';
import type { WorkloadApi } from './sds-metrics.js';
import { failCall, failOpened, openWatch, trackStream, type WorkloadServerContext } from './workload-call.js';

/**
 * The SPIFFE Workload API's X.509 methods (SPIFFE Workload API spec; X509-SVID spec §6 for the
 * encodings): server streams whose every message is the full current state.
 */

/** Workload API spec, "Transport": every call carries this header, so that a browser cannot be tricked into calling it. */
export const WORKLOAD_HEADER = 'workload.spiffe.io';

const tdId = (b: TrustBundle) => b.trustDomain.idString();
const concat = (ders: readonly Buffer[]) => Buffer.concat(ders as Buffer[]);

const svidCache = new WeakMap<IdentitySnapshot, Buffer>();
const bundlesCache = new WeakMap<IdentitySnapshot, Buffer>();

/** `X509SVIDResponse` for a snapshot, encoded once. */
function x509SvidResponse(s: IdentitySnapshot): Buffer {
  let hit = svidCache.get(s);
  if (!hit) {
    const [own, ...federated] = s.bundles;
    const message: SpiffeWorkload.X509SVIDResponse = {
      svids: [{ spiffeId: s.svid.id.toString(), x509Svid: concat(s.svid.chain), x509SvidKey: s.svid.keyPkcs8Der, bundle: own ? concat(own.roots) : Buffer.alloc(0) }],
      federatedBundles: Object.fromEntries(federated.map((b) => [tdId(b), concat(b.roots)])),
    };
    hit = methodOf(agentProtos().workload, WORKLOAD_API_SERVICE, 'FetchX509SVID').responseSerialize(message);
    svidCache.set(s, hit);
  }
  return hit;
}

/** `X509BundlesResponse` for a snapshot (every bundle, own domain included), encoded once. */
function x509BundlesResponse(s: IdentitySnapshot): Buffer {
  let hit = bundlesCache.get(s);
  if (!hit) {
    const message: SpiffeWorkload.X509BundlesResponse = { bundles: Object.fromEntries(s.bundles.map((b) => [tdId(b), concat(b.roots)])) };
    hit = methodOf(agentProtos().workload, WORKLOAD_API_SERVICE, 'FetchX509Bundles').responseSerialize(message);
    bundlesCache.set(s, hit);
  }
  return hit;
}

/**
 * Serves one Workload API stream: checks the header, opens the caller's watch, sends `encode(snapshot)`
 * first and again whenever `pushOn` says a change matters, until either side ends it.
 */
export function serveWorkloadStream(
  ctx: WorkloadServerContext,
  api: WorkloadApi,
  call: ServerWritableStream<unknown, Buffer>,
  encode: (s: IdentitySnapshot) => Buffer,
  pushOn: (changed: ReadonlySet<SecretChange>) => boolean,
): void {
  if (!call.metadata.get(WORKLOAD_HEADER).some((v) => String(v) === 'true')) {
    failCall(ctx, api, call, workloadError('ERR_WORKLOAD_HEADER_MISSING', `sds: the Workload API needs the metadata "${WORKLOAD_HEADER}: true"`));
    return;
  }
  let cleanup: () => void = () => {};
  const stream = trackStream(ctx, api, call, () => cleanup());
  const end = stream.end;
  void openWatch(ctx, api, call)
    .then((opened) => {
      if (!opened) return end();
      if (stream.ended) return opened.watch.close();
      const { watch } = opened;
      cleanup = () => watch.close();
      // Node mode: the CA no longer accepts the stream's token; the stream ends with the CA's refusal.
      watch.onRevoked((err) => {
        failCall(ctx, api, call, err);
        end();
      });
      if (stream.ended) return;
      const started = performance.now();
      const send = () => {
        if (stream.ended) return;
        call.write(encode(watch.current()));
        ctx.metrics.pushes.inc({ api });
      };
      const off = watch.onChange((changed) => {
        try {
          if (pushOn(changed)) send();
        } catch (err) {
          failOpened(ctx, api, call, err, end);
        }
      });
      cleanup = () => {
        off();
        watch.close();
      };
      send();
      ctx.metrics.firstSecretSeconds.observe({ api }, (performance.now() - started) / 1000);
    })
    .catch((err: unknown) => failOpened(ctx, api, call, err, end));
}

/** `/SpiffeWorkloadAPI/FetchX509SVID`: the SVID, its key and bundles; a new message on every change. */
export function handleFetchX509Svid(ctx: WorkloadServerContext, call: ServerWritableStream<SpiffeWorkload.X509SVIDRequest__Output, Buffer>): void {
  serveWorkloadStream(ctx, 'x509_svid', call, x509SvidResponse, () => true);
}

/** `/SpiffeWorkloadAPI/FetchX509Bundles`: every trusted bundle; a new message when a bundle changes. */
export function handleFetchX509Bundles(ctx: WorkloadServerContext, call: ServerWritableStream<SpiffeWorkload.X509BundlesRequest__Output, Buffer>): void {
  serveWorkloadStream(ctx, 'x509_bundles', call, x509BundlesResponse, (changed) => changed.has('bundle'));
}

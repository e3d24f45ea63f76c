import { createHash } from 'node:crypto';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { EnvoyDiscoveryV3 } from '../proto-types/index.js';
import { checkRequest, nodeFields } from './discovery-request.js';
import { sotwResponse } from './discovery-response.js';
import { snapshotSecrets, type EncodedSecret } from './envoy-secrets.js';
import { workloadCallError, workloadError } from './grpc-status.js';
import { callerFields, streamCaller, type WorkloadServerContext } from './workload-call.js';

/**
 * `FetchSecrets` (unary; the REST-JSON `/v3/discovery:secrets` poll of the xDS protocol over gRPC). The
 * response holds the requested resources that exist (every one for an empty list); its `version_info`
 * is a digest of their versions, so a poller sees the same version until something changes. No nonce:
 * there is nothing to ACK on a unary call. When none of the names exists: NOT_FOUND.
 */
export async function handleFetchSecrets(
  ctx: WorkloadServerContext,
  call: ServerUnaryCall<EnvoyDiscoveryV3.DiscoveryRequest__Output, Buffer>,
  callback: sendUnaryData<Buffer>,
): Promise<void> {
  const api = 'sds_fetch';
  const req = call.request;
  const node = nodeFields(req.node);
  let caller: ReturnType<typeof streamCaller> | undefined;
  try {
    checkRequest(req.typeUrl, req.resourceNames);
    caller = streamCaller(ctx, call);
    const watch = await ctx.provider.watch(caller);
    let resources: EncodedSecret[];
    try {
      const secrets = snapshotSecrets(watch.current());
      const wanted = req.resourceNames.length === 0 || req.resourceNames.includes('*') ? secrets.names : [...new Set(req.resourceNames)];
      resources = wanted.map((n) => secrets.get(n)).filter((r): r is EncodedSecret => r !== undefined);
    } finally {
      watch.close();
    }
    if (resources.length === 0)
      throw workloadError(
        'ERR_SDS_NOT_FOUND',
        `sds: no secret named ${req.resourceNames.map((n) => JSON.stringify(n.slice(0, 100))).join(', ')}; this agent serves default, ROOTCA, ALL and spiffe://<trust domain>`,
      );
    const version = createHash('sha256')
      .update(resources.map((r) => `${r.name}\u0000${r.version}`).join('\u0000'))
      .digest('hex')
      .slice(0, 16);
    ctx.metrics.pushes.inc({ api });
    ctx.log.debug({ api, ...node, resources: resources.map((r) => r.name) }, 'sds: fetch answered');
    callback(null, sotwResponse(version, resources, ''));
  } catch (err) {
    const e = workloadCallError(err);
    ctx.metrics.rejected.inc({ api, reason: e.reason });
    ctx.log[e.reason === 'ERR_INTERNAL' ? 'error' : 'warn'](
      { api, ...node, reason: e.reason, status: e.code, ...(caller ? callerFields(caller) : {}), ...(e.reason === 'ERR_INTERNAL' ? { err } : { detail: e.details }) },
      'sds: call refused',
    );
    callback({ code: e.code, details: e.details });
  }
}

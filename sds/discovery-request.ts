import { workloadError } from './grpc-status.js';
import { SECRET_TYPE_URL } from './protos.js';

/** At most this many names per request: a workload needs a handful (default, ROOTCA, a few domains). */
export const MAX_RESOURCE_NAMES = 64;
/** At most this many bytes per name (a SPIFFE ID is at most 2048 bytes but a trust domain ID 264). */
export const MAX_NAME_BYTES = 1024;

/**
 * Checks what a request asks for. xDS protocol: `type_url` is implicit on a singleton service such as
 * SDS, so empty is accepted; any other type is refused (INVALID_ARGUMENT, the stream ends), as a
 * non-ADS go-control-plane server does, because this stream cannot ever serve it.
 *
 * @example
 *   checkRequest('type.googleapis.com/envoy.config.cluster.v3.Cluster', []) // throws ERR_SDS_TYPE_URL
 */
export function checkRequest(typeUrl: string, ...nameLists: readonly (readonly string[])[]): void {
  if (typeUrl !== '' && typeUrl !== SECRET_TYPE_URL) {
    throw workloadError('ERR_SDS_TYPE_URL', `sds: this service serves only ${SECRET_TYPE_URL}, not ${JSON.stringify(typeUrl.slice(0, 200))}`);
  }
  let count = 0;
  for (const names of nameLists) {
    count += names.length;
    for (const name of names) {
      if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw workloadError('ERR_SDS_NAME_TOO_LONG', `sds: a resource name is longer than ${MAX_NAME_BYTES} bytes`);
    }
  }
  if (count > MAX_RESOURCE_NAMES) throw workloadError('ERR_SDS_TOO_MANY_NAMES', `sds: ${count} resource names in one request, at most ${MAX_RESOURCE_NAMES}`);
}

/** A client-supplied string cut to a size fit for one log line (the request may be up to 1 MiB). */
export function forLog(text: string, max = 512): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/** Node fields for logs. */
export function nodeFields(node: { id: string; cluster: string } | null): { node?: string; cluster?: string } {
  if (!node) return {};
  return { ...(node.id ? { node: forLog(node.id, 256) } : {}), ...(node.cluster ? { cluster: forLog(node.cluster, 256) } : {}) };
}

import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { EnvoyDiscoveryV3 } from '../proto-types/index.js';
import { checkRequest, forLog, nodeFields } from './discovery-request.js';
import { sotwResponse } from './discovery-response.js';
import { snapshotSecrets, type EncodedSecret } from './envoy-secrets.js';
import { nextNonce, nextVersion } from './response-nonce.js';
import type { IdentitySnapshot, SecretWatch } from './secret-source.js';
import { callerFields, failCall, failOpened, openWatch, trackStream, type WorkloadServerContext } from './workload-call.js';

const pushCache = new WeakMap<IdentitySnapshot, Map<string, { nonce: string; bytes: Buffer }>>();

/** The response every stream subscribed to `key` gets when `snapshot` becomes current. */
function sharedPush(snapshot: IdentitySnapshot, key: string, resources: readonly EncodedSecret[]): { nonce: string; bytes: Buffer } {
  let byKey = pushCache.get(snapshot);
  if (!byKey) {
    byKey = new Map();
    pushCache.set(snapshot, byKey);
  }
  let hit = byKey.get(key);
  if (!hit) {
    const nonce = nextNonce();
    hit = { nonce, bytes: sotwResponse(nextVersion(), resources, nonce) };
    byKey.set(key, hit);
  }
  return hit;
}

/**
 * `StreamSecrets`: state-of-the-world SDS (xDS protocol, "State of the World" variant).
 *
 * - Every response has a fresh nonce and a new `version_info`. A request whose `response_nonce` is not
 *   the latest one sent is stale and ignored entirely (its subscription list too: the client sends the
 *   current list again when it ACKs the newer response). The first request (no nonce) is processed.
 * - `error_detail` set = NACK: logged with the node id, counted; the stream stays up and the rejected
 *   version is not sent again (only a change of secrets or subscription produces a new response).
 * - A response is sent only when the subscription or one of its secrets changed, and carries every
 *   subscribed resource that exists. Names the agent does not serve are left out: Envoy keeps waiting
 *   for them (its `initial_fetch_timeout`), as it does with SPIRE and Istio for an unknown secret. If
 *   none of the subscribed names exists nothing is sent: Envoy rejects an SDS response without the
 *   resource it asked for ("Missing SDS resources").
 * - `*` is a wildcard: every resource the agent serves. An empty `resource_names` is the legacy
 *   wildcard only while the client has never named a resource on this stream; once it has, an empty
 *   list unsubscribes from everything (xDS protocol, "How the client specifies what resources to
 *   return"), and nothing is sent until it subscribes again.
 */
export function handleStreamSecrets(ctx: WorkloadServerContext, call: ServerDuplexStream<EnvoyDiscoveryV3.DiscoveryRequest__Output, Buffer>): void {
  const api = 'sds_sotw';
  let watch: SecretWatch | undefined;
  let names: readonly string[] | undefined;
  /** The client named resources at least once: an empty list no longer means wildcard. */
  let everNamed = false;
  let lastNonce = '';
  let sentKey: string | undefined;
  let node: ReturnType<typeof nodeFields> = {};
  let firstRequestAt = 0;
  let unsubscribe: (() => void) | undefined;
  const stream = trackStream(ctx, api, call, () => {
    unsubscribe?.();
    watch?.close();
  });
  const end = stream.end;

  const respondOrThrow = (push: boolean) => {
    if (!watch || names === undefined || stream.ended) return;
    const snapshot = watch.current();
    const secrets = snapshotSecrets(snapshot);
    const wildcard = names.includes('*') || (names.length === 0 && !everNamed);
    const wanted = wildcard ? secrets.names : names;
    const resources: EncodedSecret[] = [];
    for (const name of wanted) {
      const r = secrets.get(name);
      if (r) resources.push(r);
    }
    const key = resources.map((r) => `${r.name}\u0000${r.version}`).join('\u0000');
    if (key === sentKey) return;
    sentKey = key;
    // Nothing to send (unsubscribed, or names the agent does not serve); remembering the empty key means a
    // later subscription to a resource sent before gets it again.
    if (resources.length === 0) return;
    if (push) {
      // A change reaches every stream with the same subscription in one synchronous round: they share
      // one encoded response (nonces need only be unique within a stream; this one is new to each).
      const shared = sharedPush(snapshot, key, resources);
      lastNonce = shared.nonce;
      call.write(shared.bytes);
    } else {
      lastNonce = nextNonce();
      call.write(sotwResponse(nextVersion(), resources, lastNonce));
    }
    ctx.metrics.pushes.inc({ api });
    if (firstRequestAt !== 0) {
      ctx.metrics.firstSecretSeconds.observe({ api }, (performance.now() - firstRequestAt) / 1000);
      firstRequestAt = 0;
    }
  };

  // Serving must never throw out of an event handler (that would end the process): a failure fails
  // this call only.
  const respond = (push: boolean) => {
    try {
      respondOrThrow(push);
    } catch (err) {
      failOpened(ctx, api, call, err, end);
    }
  };

  call.on('data', (req: EnvoyDiscoveryV3.DiscoveryRequest__Output) => {
    if (stream.ended) return;
    try {
      checkRequest(req.typeUrl, req.resourceNames);
    } catch (err) {
      failCall(ctx, api, call, err, nodeFields(req.node));
      end();
      return;
    }
    if (names === undefined) {
      node = nodeFields(req.node);
      firstRequestAt = performance.now();
      ctx.log.info({ api, ...node, resources: req.resourceNames.map((n) => forLog(n, 128)) }, 'sds: stream opened');
    }
    if (lastNonce !== '' && req.responseNonce !== lastNonce) {
      ctx.log.debug({ api, ...node, nonce: forLog(req.responseNonce, 64), latest: lastNonce }, 'sds: stale nonce; request ignored');
      return;
    }
    if (req.errorDetail) {
      ctx.metrics.nacks.inc({ api });
      ctx.log.warn(
        { api, ...node, nonce: forLog(req.responseNonce, 64), version: forLog(req.versionInfo, 64), error: forLog(req.errorDetail.message), code: req.errorDetail.code },
        'sds: client rejected secrets (NACK)',
      );
    }
    names = [...new Set(req.resourceNames)];
    if (names.length > 0) everNamed = true;
    respond(false);
  });

  void openWatch(ctx, api, call)
    .then((opened) => {
      if (!opened) {
        end();
        return;
      }
      if (stream.ended) {
        opened.watch.close();
        return;
      }
      watch = opened.watch;
      if (opened.caller.token !== undefined) ctx.log.debug({ api, ...node, ...callerFields(opened.caller) }, 'sds: stream identity resolved');
      // Node mode: the CA no longer accepts the stream's token; the stream ends with the CA's refusal.
      watch.onRevoked((err) => {
        failCall(ctx, api, call, err, { ...node, ...callerFields(opened.caller) });
        end();
      });
      if (stream.ended) return;
      unsubscribe = watch.onChange(() => respond(true));
      respond(false);
    })
    .catch((err: unknown) => failOpened(ctx, api, call, err, end));
}

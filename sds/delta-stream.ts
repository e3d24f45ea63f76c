import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { EnvoyDiscoveryV3 } from '../proto-types/index.js';
import { checkRequest, forLog, MAX_RESOURCE_NAMES, nodeFields } from './discovery-request.js';
import { workloadError } from './grpc-status.js';
import { deltaResponse } from './discovery-response.js';
import { snapshotSecrets, type EncodedSecret } from './envoy-secrets.js';
import { nextNonce, nextVersion } from './response-nonce.js';
import type { SecretWatch } from './secret-source.js';
import { failCall, failOpened, openWatch, trackStream, type WorkloadServerContext } from './workload-call.js';

/**
 * `DeltaSecrets`: incremental SDS (xDS protocol, "Incremental xDS").
 *
 * - Subscriptions are deltas, so every request is applied, whatever its nonce; the nonce only says
 *   which response an ACK or NACK is about. A NACK (`error_detail`) is logged and counted and the
 *   rejected version is not resent.
 * - The server remembers, per resource, the version the client holds: seeded from
 *   `initial_resource_versions` on the first request of a (re)connected stream, so a resource the
 *   client already has at the current version is not sent again.
 * - `removed_resources` carries only resources the client holds: those it unsubscribed from and those
 *   that stopped being served (xDS protocol, "Deleting Resources": it tells the client to remove the
 *   resource from its local cache). A subscribed name the agent does not serve is not answered at all:
 *   the protocol defines no "does not exist" signal for it ("Knowing When a Requested Resource Does Not
 *   Exist" describes only the client's timeout), and Envoy's SdsApi takes a removal as the end of
 *   warming without a secret, whereas silence keeps it waiting for the secret (its
 *   `initial_fetch_timeout`), as over state-of-the-world SDS.
 * - An empty subscription on the first request, or `*`, is a wildcard subscription.
 * - At most MAX_RESOURCE_NAMES subscribed names per stream (INVALID_ARGUMENT beyond), so a client cannot
 *   grow a stream's state without bound a request at a time.
 */
export function handleDeltaSecrets(ctx: WorkloadServerContext, call: ServerDuplexStream<EnvoyDiscoveryV3.DeltaDiscoveryRequest__Output, Buffer>): void {
  const api = 'sds_delta';
  let watch: SecretWatch | undefined;
  let started = false;
  let wildcard = false;
  const subscribed = new Set<string>();
  /** name → version the client holds. */
  const held = new Map<string, string>();
  let pendingRemoved: string[] = [];
  let lastNonce = '';
  let node: ReturnType<typeof nodeFields> = {};
  let firstRequestAt = 0;
  let unsubscribe: (() => void) | undefined;
  const stream = trackStream(ctx, api, call, () => {
    unsubscribe?.();
    watch?.close();
  });
  const end = stream.end;

  const respondOrThrow = () => {
    if (!watch || !started || stream.ended) return;
    const secrets = snapshotSecrets(watch.current());
    const names = new Set(subscribed);
    if (wildcard) for (const n of secrets.names) names.add(n);
    const resources: EncodedSecret[] = [];
    const removed = pendingRemoved;
    pendingRemoved = [];
    for (const name of names) {
      const r = secrets.get(name);
      if (r) {
        if (held.get(name) !== r.version) {
          resources.push(r);
          held.set(name, r.version);
        }
      } else if (held.has(name)) {
        // The client holds a resource that is no longer served: it must drop it.
        removed.push(name);
        held.delete(name);
      }
    }
    // A resource the client declared in initial_resource_versions that is no longer served.
    for (const name of held.keys()) {
      if (!names.has(name)) {
        removed.push(name);
        held.delete(name);
      }
    }
    if (resources.length === 0 && removed.length === 0) return;
    lastNonce = nextNonce();
    call.write(deltaResponse(nextVersion(), resources, removed, lastNonce));
    ctx.metrics.pushes.inc({ api });
    if (firstRequestAt !== 0 && resources.length > 0) {
      ctx.metrics.firstSecretSeconds.observe({ api }, (performance.now() - firstRequestAt) / 1000);
      firstRequestAt = 0;
    }
  };

  // Serving must never throw out of an event handler (that would end the process): a failure fails
  // this call only.
  const respond = () => {
    try {
      respondOrThrow();
    } catch (err) {
      failOpened(ctx, api, call, err, end);
    }
  };

  call.on('data', (req: EnvoyDiscoveryV3.DeltaDiscoveryRequest__Output) => {
    if (stream.ended) return;
    try {
      checkRequest(req.typeUrl, req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, Object.keys(req.initialResourceVersions ?? {}));
    } catch (err) {
      failCall(ctx, api, call, err, nodeFields(req.node));
      end();
      return;
    }
    if (!started) {
      started = true;
      node = nodeFields(req.node);
      firstRequestAt = performance.now();
      for (const [name, version] of Object.entries(req.initialResourceVersions ?? {})) held.set(name, version);
      if (req.resourceNamesSubscribe.length === 0) wildcard = true;
      ctx.log.info({ api, ...node, resources: req.resourceNamesSubscribe.map((n) => forLog(n, 128)), initial: [...held.keys()].map((n) => forLog(n, 128)) }, 'sds: stream opened');
    }
    if (req.errorDetail) {
      ctx.metrics.nacks.inc({ api });
      ctx.log.warn({ api, ...node, nonce: forLog(req.responseNonce, 64), current: req.responseNonce === lastNonce, error: forLog(req.errorDetail.message), code: req.errorDetail.code }, 'sds: client rejected secrets (NACK)');
    }
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') wildcard = true;
      else subscribed.add(name);
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') {
        wildcard = false;
        continue;
      }
      subscribed.delete(name);
      if (held.delete(name)) pendingRemoved.push(name);
    }
    if (subscribed.size > MAX_RESOURCE_NAMES) {
      failCall(ctx, api, call, workloadError('ERR_SDS_TOO_MANY_NAMES', `sds: a stream may subscribe to at most ${MAX_RESOURCE_NAMES} resource names; it asked for ${subscribed.size}`), node);
      end();
      return;
    }
    respond();
  });

  void openWatch(ctx, api, call).then((opened) => {
    if (!opened) {
      end();
      return;
    }
    if (stream.ended) {
      opened.watch.close();
      return;
    }
    watch = opened.watch;
    // Node mode: the CA no longer accepts the stream's token; the stream ends with the CA's refusal.
    watch.onRevoked((err) => {
      failCall(ctx, api, call, err, node);
      end();
    });
    if (stream.ended) return;
    unsubscribe = watch.onChange(respond);
    respond();
  }).catch((err: unknown) => failOpened(ctx, api, call, err, end));
}

import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { EnvoyDiscoveryV3 } from '../proto-types/index.js';
import { checkRequest, forLog, MAX_RESOURCE_NAMES, nodeFields } from './discovery-request.js';
import { DeltaSubscription } from './delta-subscription.js';
import { workloadError } from './grpc-status.js';
import { deltaResponse } from './discovery-response.js';
import { snapshotSecrets } from './envoy-secrets.js';
import { nextNonce, nextVersion } from './response-nonce.js';
import type { SecretWatch, StreamCaller } from './secret-source.js';
import { failCall, failOpened, openWatch, trackStream, type TrackedStream, type WorkloadServerContext } from './workload-call.js';

type DeltaDiscoveryRequest = EnvoyDiscoveryV3.DeltaDiscoveryRequest__Output;

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
export function handleDeltaSecrets(ctx: WorkloadServerContext, call: ServerDuplexStream<DeltaDiscoveryRequest, Buffer>): void {
  new DeltaSecretsStream(ctx, call);
}

const API = 'sds_delta';

/** One `DeltaSecrets` call: its subscription, its watch on the caller's identity, and what it last sent. */
class DeltaSecretsStream {
  private readonly subscription = new DeltaSubscription();
  private readonly stream: TrackedStream;
  private watch: SecretWatch | undefined;
  private unsubscribe: (() => void) | undefined;
  /** The first request arrived (its initial versions and wildcard are applied). */
  private started = false;
  private lastNonce = '';
  private node: ReturnType<typeof nodeFields> = {};
  /** When the first request arrived, until the first resource went out (the first-secret metric). */
  private firstRequestAt = 0;

  constructor(
    private readonly ctx: WorkloadServerContext,
    private readonly call: ServerDuplexStream<DeltaDiscoveryRequest, Buffer>,
  ) {
    this.stream = trackStream(ctx, API, call, () => {
      this.unsubscribe?.();
      this.watch?.close();
    });
    call.on('data', (req: DeltaDiscoveryRequest) => this.request(req));
    void openWatch(ctx, API, call)
      .then((opened) => this.watchOpened(opened))
      .catch((err: unknown) => failOpened(ctx, API, call, err, this.end));
  }

  private readonly end = (): void => this.stream.end();

  /** A client request: checked, then applied to the subscription, then answered if anything changed. */
  private request(req: DeltaDiscoveryRequest): void {
    if (this.stream.ended) return;
    try {
      checkRequest(req.typeUrl, req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, Object.keys(req.initialResourceVersions ?? {}));
    } catch (err) {
      this.refuse(err, nodeFields(req.node));
      return;
    }
    if (!this.started) this.begin(req);
    if (req.errorDetail) this.nacked(req);
    this.subscription.apply(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe);
    if (this.subscription.size > MAX_RESOURCE_NAMES) {
      this.refuse(
        workloadError('ERR_SDS_TOO_MANY_NAMES', `sds: a stream may subscribe to at most ${MAX_RESOURCE_NAMES} resource names; it asked for ${this.subscription.size}`),
        this.node,
      );
      return;
    }
    this.respond();
  }

  /** The first request of a (re)connected stream. */
  private begin(req: DeltaDiscoveryRequest): void {
    this.started = true;
    this.node = nodeFields(req.node);
    this.firstRequestAt = performance.now();
    this.subscription.begin(req.initialResourceVersions ?? {}, req.resourceNamesSubscribe.length === 0);
    this.ctx.log.info(
      { api: API, ...this.node, resources: req.resourceNamesSubscribe.map((n) => forLog(n, 128)), initial: this.subscription.initial.map((n) => forLog(n, 128)) },
      'sds: stream opened',
    );
  }

  /** A NACK: logged and counted; the rejected version is not resent. */
  private nacked(req: DeltaDiscoveryRequest): void {
    this.ctx.metrics.nacks.inc({ api: API });
    this.ctx.log.warn(
      {
        api: API,
        ...this.node,
        nonce: forLog(req.responseNonce, 64),
        current: req.responseNonce === this.lastNonce,
        error: forLog(req.errorDetail!.message),
        code: req.errorDetail!.code,
      },
      'sds: client rejected secrets (NACK)',
    );
  }

  /** The caller's watch is open (or the call was refused: `opened` undefined). */
  private watchOpened(opened: { watch: SecretWatch; caller: StreamCaller } | undefined): void {
    if (!opened) {
      this.end();
      return;
    }
    if (this.stream.ended) {
      opened.watch.close();
      return;
    }
    const watch = opened.watch;
    this.watch = watch;
    // Node mode: the CA no longer accepts the stream's token; the stream ends with the CA's refusal.
    watch.onRevoked((err) => this.refuse(err, this.node));
    if (this.stream.ended) return;
    this.unsubscribe = watch.onChange(() => this.respond());
    this.respond();
  }

  // Serving must never throw out of an event handler (that would end the process): a failure fails
  // this call only.
  private respond(): void {
    try {
      this.send();
    } catch (err) {
      failOpened(this.ctx, API, this.call, err, this.end);
    }
  }

  /** Sends what changed for the subscription since the last response, if anything. */
  private send(): void {
    if (!this.watch || !this.started || this.stream.ended) return;
    const { resources, removed } = this.subscription.changes(snapshotSecrets(this.watch.current()));
    if (resources.length === 0 && removed.length === 0) return;
    this.lastNonce = nextNonce();
    this.call.write(deltaResponse(nextVersion(), resources, removed, this.lastNonce));
    this.ctx.metrics.pushes.inc({ api: API });
    if (this.firstRequestAt !== 0 && resources.length > 0) {
      this.ctx.metrics.firstSecretSeconds.observe({ api: API }, (performance.now() - this.firstRequestAt) / 1000);
      this.firstRequestAt = 0;
    }
  }

  /** Fails the call with `err`'s status and ends it. */
  private refuse(err: unknown, fields: Record<string, unknown>): void {
    failCall(this.ctx, API, this.call, err, fields);
    this.end();
  }
}

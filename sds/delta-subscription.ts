import type { EncodedSecret, SnapshotSecrets } from './envoy-secrets.js';

/**
 * What one `DeltaSecrets` stream subscribed to and which version of each resource its client holds
 * (xDS protocol, "Incremental xDS"): the state that decides what a response carries. See delta-stream.ts
 * for the rules.
 *
 * @example
 *   sub.begin(req.initialResourceVersions, req.resourceNamesSubscribe.length === 0);
 *   sub.apply(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe);
 *   const { resources, removed } = sub.changes(snapshotSecrets(watch.current()));
 */
export class DeltaSubscription {
  /** `*` or an empty first subscription: every resource the agent serves. */
  private wildcard = false;
  private readonly subscribed = new Set<string>();
  /** name → version the client holds. */
  private readonly held = new Map<string, string>();
  /** Names the client unsubscribed from while holding them: removed in the next response. */
  private pendingRemoved: string[] = [];

  /** How many names are subscribed (the wildcard not counted). */
  get size(): number {
    return this.subscribed.size;
  }

  /** Names the client declared it holds on (re)connecting. */
  get initial(): string[] {
    return [...this.held.keys()];
  }

  /**
   * The first request of a (re)connected stream: the versions the client already holds (seeded from
   * `initial_resource_versions`, so what it has at the current version is not sent again), and a
   * wildcard subscription when it names nothing.
   */
  begin(initialVersions: Readonly<Record<string, string>>, namesNothing: boolean): void {
    for (const [name, version] of Object.entries(initialVersions)) this.held.set(name, version);
    if (namesNothing) this.wildcard = true;
  }

  /** Applies a request's subscribe and unsubscribe lists (`*` switches the wildcard). */
  apply(subscribe: readonly string[], unsubscribe: readonly string[]): void {
    for (const name of subscribe) {
      if (name === '*') this.wildcard = true;
      else this.subscribed.add(name);
    }
    for (const name of unsubscribe) {
      if (name === '*') {
        this.wildcard = false;
        continue;
      }
      this.subscribed.delete(name);
      if (this.held.delete(name)) this.pendingRemoved.push(name);
    }
  }

  /**
   * What to send so that the client holds exactly the served resources of its subscription: every
   * resource it does not hold at the current version, and the names of resources it holds that are
   * unsubscribed or no longer served. Records the client as holding the result (the response goes out).
   */
  changes(secrets: SnapshotSecrets): { resources: EncodedSecret[]; removed: string[] } {
    const names = new Set(this.subscribed);
    if (this.wildcard) for (const n of secrets.names) names.add(n);
    const resources: EncodedSecret[] = [];
    const removed = this.pendingRemoved;
    this.pendingRemoved = [];
    for (const name of names) {
      const r = secrets.get(name);
      if (r) {
        if (this.held.get(name) !== r.version) {
          resources.push(r);
          this.held.set(name, r.version);
        }
      } else if (this.held.has(name)) {
        // The client holds a resource that is no longer served: it must drop it.
        removed.push(name);
        this.held.delete(name);
      }
    }
    // A resource the client declared in initial_resource_versions that is no longer served.
    for (const name of this.held.keys()) {
      if (!names.has(name)) {
        removed.push(name);
        this.held.delete(name);
      }
    }
    return { resources, removed };
  }
}

import type { ConfigurationOptions, CoreV1Api, KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { apiErrorFacts, callOptions, kubeModule } from '../store/index.js';
import type { Logger } from 'pino';
import { CastellanError } from '../../workload-identity/index.js';

/** The ConfigMap every namespace gets (docs/architecture.md §6; the name Istio uses for the same purpose is `istio-ca-root-cert`). */
export const BUNDLE_CONFIGMAP_NAME = 'castellan-root-cert';
export const BUNDLE_CONFIGMAP_KEY = 'root-cert.pem';
/** Recommended label (kubernetes.io "Recommended Labels"): marks the ConfigMaps this publisher owns. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'castellan';
/** The trust-bundle sequence the ConfigMap's content belongs to. */
export const BUNDLE_SEQUENCE_ANNOTATION = 'castellan.io/bundle-sequence';

export type BundleConfigMapErrorCode = 'ERR_BUNDLE_PUBLISHER_STOPPED';

/** The part of TrustBundleSource the publisher needs. */
export interface PublishedBundleSource {
  current(): { readonly sequence: number; readonly pem: string };
  subscribe(listener: (s: { readonly sequence: number; readonly pem: string }) => void): () => void;
}

/** Timers, injectable so tests drive resyncs without sleeping. */
export interface PublisherTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface BundleConfigMapPublisherOptions {
  /** A loaded KubeConfig (in-cluster or from a file). */
  readonly kubeConfig: KubeConfig;
  readonly bundle: PublishedBundleSource;
  /** ConfigMap name. Default {@link BUNDLE_CONFIGMAP_NAME}. */
  readonly name?: string;
  /** Data key holding the PEM. Default {@link BUNDLE_CONFIGMAP_KEY}. */
  readonly key?: string;
  /** Namespaces never written. Default none. */
  readonly excludeNamespaces?: readonly string[];
  /** Milliseconds between full passes (covers namespaces created later). Default 60 000. */
  readonly resyncMs?: number;
  /** Milliseconds before the first retry after a pass with failures; doubles up to resyncMs. Default 5 000. */
  readonly retryMs?: number;
  /** Namespaces written concurrently within a pass. Default 4. */
  readonly concurrency?: number;
  /** Per-request timeout in milliseconds. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Re-reads after a 409 before the namespace counts as failed for this pass. Default 3. */
  readonly conflictRetries?: number;
  readonly timers?: PublisherTimers;
  readonly now?: () => Date;
  readonly log: Logger;
}

/** What one pass did. `failed` holds namespaces, or `*` when the namespaces could not be listed. */
export interface PublishPass {
  readonly sequence: number;
  readonly namespaces: number;
  readonly created: readonly string[];
  readonly replaced: readonly string[];
  readonly unchanged: number;
  /** Namespaces whose ConfigMap of that name belongs to someone else (no managed-by label). */
  readonly foreign: readonly string[];
  /** Namespaces where another replica already wrote a newer bundle sequence. */
  readonly newer: readonly string[];
  readonly failed: readonly string[];
  readonly conflicts: number;
  readonly finishedAt: Date;
}

export interface BundleConfigMapStats {
  passes: number;
  /** ConfigMaps created or replaced, over all passes. */
  namespacesWritten: number;
  /** Namespace failures (and failed namespace listings), over all passes. */
  failures: number;
  /** 409s answered by re-reading, over all passes. */
  conflicts: number;
  /** Namespaces holding a foreign ConfigMap at the last pass. */
  foreignNamespaces: number;
  /** Bundle sequence of the last finished pass; 0 before the first. */
  lastPassSequence: number;
  /** Bundle sequence of the last pass without failures; 0 before the first. */
  lastSyncedSequence: number;
  lastPass: PublishPass | undefined;
}

type Client = { k8s: typeof import('@kubernetes/client-node'); api: CoreV1Api };

/**
 * Writes the trust bundle into a ConfigMap (`castellan-root-cert`, key `root-cert.pem`) in every
 * namespace, on start, on every bundle change and at each resync (docs/architecture.md §6), so workloads without
 * an agent can mount the roots. Owns only ConfigMaps carrying its managed-by label; never moves a
 * ConfigMap to an older bundle sequence (replicas may briefly disagree). Passes never overlap: a
 * change during a pass causes exactly one more pass after it.
 *
 * @example
 *   const p = new BundleConfigMapPublisher({ kubeConfig: kc, bundle: server.trustBundle, log });
 *   void p.start(); server.addBackground(p);
 */
export class BundleConfigMapPublisher {
  readonly stats: BundleConfigMapStats = {
    passes: 0,
    namespacesWritten: 0,
    failures: 0,
    conflicts: 0,
    foreignNamespaces: 0,
    lastPassSequence: 0,
    lastSyncedSequence: 0,
    lastPass: undefined,
  };
  private readonly name: string;
  private readonly key: string;
  private readonly excluded: ReadonlySet<string>;
  private readonly resyncMs: number;
  private readonly retryMs: number;
  private readonly timers: PublisherTimers;
  private readonly now: () => Date;
  private readonly abort = new AbortController();
  private client: Promise<Client> | undefined;
  private k8s: Client['k8s'] | undefined;
  private running: Promise<PublishPass> | undefined;
  private next: Promise<PublishPass> | undefined;
  private timer: unknown;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private failStreak = 0;
  private listFallbackLogged = false;
  private readonly foreignWarned = new Set<string>();
  private waiters: { sequence: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly o: BundleConfigMapPublisherOptions) {
    if (typeof o.kubeConfig?.getCurrentCluster !== 'function' || o.kubeConfig.getCurrentCluster() === null) {
      throw new TypeError('bundle-configmaps: needs a loaded KubeConfig with a current cluster');
    }
    this.name = o.name ?? BUNDLE_CONFIGMAP_NAME;
    this.key = o.key ?? BUNDLE_CONFIGMAP_KEY;
    this.excluded = new Set(o.excludeNamespaces ?? []);
    this.resyncMs = o.resyncMs ?? 60_000;
    this.retryMs = Math.min(o.retryMs ?? 5_000, this.resyncMs);
    this.timers = o.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms).unref(), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.now = o.now ?? (() => new Date());
  }

  /** Subscribes to bundle changes and runs the first pass; resolves with it (it never rejects). */
  start(): Promise<PublishPass> {
    if (this.unsubscribe === undefined && !this.stopped) this.unsubscribe = this.o.bundle.subscribe(() => void this.resync());
    return this.resync();
  }

  /** Runs a pass now, or once more after the running one (coalesced); resolves with that pass. */
  resync(): Promise<PublishPass> {
    if (this.stopped) return Promise.resolve(this.stats.lastPass ?? this.emptyPass());
    if (this.running === undefined) return this.launch();
    this.next ??= this.running.then(() => {
      this.next = undefined;
      return this.stopped ? (this.stats.lastPass ?? this.emptyPass()) : this.launch();
    });
    return this.next;
  }

  /** Resolves once a pass without failures has published `sequence` (default: the current one) or newer. */
  synced(sequence: number = this.o.bundle.current().sequence): Promise<void> {
    if (this.stats.lastSyncedSequence >= sequence) return Promise.resolve();
    if (this.stopped) return Promise.reject(stoppedError());
    return new Promise((resolve, reject) => this.waiters.push({ sequence, resolve, reject }));
  }

  /** Resolves when no pass is running or queued (tests drive the timer, then wait here). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.next !== undefined) await (this.next ?? this.running);
  }

  /** Ends timers, the subscription and in-flight requests; resolves when the running pass has returned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.timers.clearTimeout(this.timer);
    this.abort.abort();
    for (const w of this.waiters.splice(0)) w.reject(stoppedError());
    await this.running;
    await this.next;
  }

  private launch(): Promise<PublishPass> {
    const p: Promise<PublishPass> = this.pass().then((r) => {
      if (this.running === p) this.running = undefined;
      this.record(r);
      return r;
    });
    this.running = p;
    return p;
  }

  private record(r: PublishPass): void {
    const s = this.stats;
    s.passes++;
    s.namespacesWritten += r.created.length + r.replaced.length;
    s.failures += r.failed.length;
    s.conflicts += r.conflicts;
    s.foreignNamespaces = r.foreign.length;
    s.lastPassSequence = r.sequence;
    s.lastPass = r;
    if (r.failed.length === 0) {
      s.lastSyncedSequence = Math.max(s.lastSyncedSequence, r.sequence);
      const synced = s.lastSyncedSequence;
      for (const w of this.waiters) if (w.sequence <= synced) w.resolve();
      this.waiters = this.waiters.filter((w) => w.sequence > synced);
    }
    this.failStreak = r.failed.length === 0 ? 0 : this.failStreak + 1;
    if (this.stopped) return;
    // A failed namespace is retried sooner than the resync, backing off to it.
    const delay = this.failStreak === 0 ? this.resyncMs : Math.min(this.retryMs * 2 ** (this.failStreak - 1), this.resyncMs);
    this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => void this.resync(), delay);
  }

  private emptyPass(): PublishPass {
    return { sequence: 0, namespaces: 0, created: [], replaced: [], unchanged: 0, foreign: [], newer: [], failed: [], conflicts: 0, finishedAt: this.now() };
  }

  private async pass(): Promise<PublishPass> {
    const bundle = this.o.bundle.current();
    const r = {
      sequence: bundle.sequence,
      namespaces: 0,
      created: [] as string[],
      replaced: [] as string[],
      unchanged: 0,
      foreign: [] as string[],
      newer: [] as string[],
      failed: [] as string[],
      conflicts: 0,
    };
    try {
      const { api } = await this.api();
      const list = await api.listNamespace({}, this.callOptions());
      const namespaces = list.items
        // A terminating namespace refuses new objects (NamespaceLifecycle admission) and is going away.
        .filter((n) => n.metadata?.deletionTimestamp === undefined && n.status?.phase !== 'Terminating')
        .map((n) => n.metadata?.name ?? '')
        .filter((n) => n !== '' && !this.excluded.has(n));
      r.namespaces = namespaces.length;
      const known = await this.listOurs(api);
      let i = 0;
      const worker = async (): Promise<void> => {
        while (i < namespaces.length && !this.stopped) {
          const ns = namespaces[i++]!;
          await this.reconcile(api, ns, bundle, known === undefined ? undefined : (known.get(ns) ?? null), r);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, this.o.concurrency ?? 4) }, worker));
    } catch (err) {
      r.failed.push('*');
      if (!this.stopped) this.o.log.error({ ...(await this.describe(err)) }, 'bundle-configmaps: cannot list namespaces; check RBAC (namespaces: list); retrying');
    }
    for (const ns of this.foreignWarned) if (!r.foreign.includes(ns)) this.foreignWarned.delete(ns);
    const pass = { ...r, finishedAt: this.now() };
    if (r.created.length + r.replaced.length > 0 || r.failed.length > 0) {
      this.o.log.info(
        { sequence: r.sequence, created: r.created.length, replaced: r.replaced.length, unchanged: r.unchanged, failed: r.failed, foreign: r.foreign.length },
        'bundle-configmaps: pass done',
      );
    }
    return pass;
  }

  /**
   * Our ConfigMaps in every namespace with one cluster-wide list (`fieldSelector=metadata.name=<name>`,
   * which RBAC authorizes against `resourceNames`), so a pass costs two reads plus the writes.
   * `undefined` when the list is not allowed: each namespace is then read with a GET.
   */
  private async listOurs(api: CoreV1Api): Promise<Map<string, V1ConfigMap> | undefined> {
    try {
      const list = await api.listConfigMapForAllNamespaces({ fieldSelector: `metadata.name=${this.name}` }, this.callOptions());
      return new Map(list.items.map((c) => [c.metadata?.namespace ?? '', c]));
    } catch (err) {
      if (this.stopped) throw err;
      if (!this.listFallbackLogged) {
        this.listFallbackLogged = true;
        this.o.log.warn(
          { ...(await this.describe(err)) },
          `bundle-configmaps: cannot list configmaps "${this.name}" cluster-wide; reading each namespace instead (grant configmaps: list)`,
        );
      }
      return undefined;
    }
  }

  /** Makes one namespace's ConfigMap hold exactly the bundle. `cm`: null = known absent, undefined = unknown. */
  private async reconcile(
    api: CoreV1Api,
    namespace: string,
    bundle: { sequence: number; pem: string },
    cm: V1ConfigMap | null | undefined,
    r: { created: string[]; replaced: string[]; unchanged: number; foreign: string[]; newer: string[]; failed: string[]; conflicts: number },
  ): Promise<void> {
    const attempts = 1 + (this.o.conflictRetries ?? 3);
    try {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const current = cm !== undefined ? cm : await this.read(api, namespace);
        cm = undefined;
        if (current === null) {
          const code = await this.write(() => api.createNamespacedConfigMap({ namespace, body: this.desired(namespace, bundle), fieldManager: 'castellan' }, this.callOptions()));
          if (code === 0) return void r.created.push(namespace);
          if (code === 404) return; // the namespace went away since the list
          r.conflicts++; // 409 AlreadyExists: another replica created it; look again
          continue;
        }
        if (current.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
          r.foreign.push(namespace);
          if (!this.foreignWarned.has(namespace)) {
            this.foreignWarned.add(namespace);
            this.o.log.warn(
              { namespace, configMap: this.name },
              `bundle-configmaps: configmap "${this.name}" in ${namespace} is not managed by castellan (no ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} label); leaving it alone`,
            );
          }
          return;
        }
        const theirs = Number(current.metadata?.annotations?.[BUNDLE_SEQUENCE_ANNOTATION] ?? 0);
        if (Number.isFinite(theirs) && theirs > bundle.sequence) return void r.newer.push(namespace);
        const data = current.data ?? {};
        const exact = Object.keys(data).length === 1 && data[this.key] === bundle.pem && current.binaryData === undefined;
        if (exact && theirs === bundle.sequence) return void r.unchanged++;
        const body: V1ConfigMap = {
          ...this.desired(namespace, bundle),
          // Keep what others added to the metadata; resourceVersion makes the write conditional.
          metadata: {
            ...current.metadata,
            labels: { ...current.metadata?.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
            annotations: { ...current.metadata?.annotations, [BUNDLE_SEQUENCE_ANNOTATION]: String(bundle.sequence) },
          },
        };
        const code = await this.write(() => api.replaceNamespacedConfigMap({ namespace, name: this.name, body, fieldManager: 'castellan' }, this.callOptions()));
        if (code === 0) return void r.replaced.push(namespace);
        if (code === 404)
          cm = null; // deleted meanwhile: create it
        else r.conflicts++; // 409: someone wrote after our read; re-read and decide again
      }
      throw new Error(`still conflicting after ${attempts} attempts`);
    } catch (err) {
      if (this.stopped) return;
      r.failed.push(namespace);
      this.o.log.warn({ namespace, ...(await this.describe(err)) }, `bundle-configmaps: cannot write configmap "${this.name}" in ${namespace}; retrying at the next pass`);
    }
  }

  private desired(namespace: string, bundle: { sequence: number; pem: string }): V1ConfigMap {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }, annotations: { [BUNDLE_SEQUENCE_ANNOTATION]: String(bundle.sequence) } },
      data: { [this.key]: bundle.pem },
    };
  }

  private async read(api: CoreV1Api, namespace: string): Promise<V1ConfigMap | null> {
    const { k8s } = await this.api();
    try {
      return await api.readNamespacedConfigMap({ namespace, name: this.name }, this.callOptions());
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return null;
      throw err;
    }
  }

  /** 0 on success, 404 or 409 for the cases the caller handles; anything else throws. */
  private async write(call: () => Promise<unknown>): Promise<0 | 404 | 409> {
    const { k8s } = await this.api();
    try {
      await call();
      return 0;
    } catch (err) {
      if (err instanceof k8s.ApiException && (err.code === 404 || err.code === 409)) return err.code;
      throw err;
    }
  }

  private api(): Promise<Client> {
    // Loaded on first use: the client takes ~0.5 s to import.
    this.client ??= kubeModule().then((k8s) => {
      this.k8s = k8s;
      return { k8s, api: this.o.kubeConfig.makeApiClient(k8s.CoreV1Api) };
    });
    return this.client;
  }

  /** Aborts each request on stop() or after the request timeout. */
  private callOptions(): ConfigurationOptions {
    return callOptions(this.k8s!, this.abort.signal, this.o.requestTimeoutMs ?? 10_000);
  }

  /** Loggable facts of a failure: HTTP status and the Status reason/message, never headers or tokens. */
  private async describe(err: unknown): Promise<Record<string, unknown>> {
    const { k8s } = await this.api().catch(() => ({ k8s: undefined }));
    return k8s === undefined ? { error: err instanceof Error ? err.message : String(err) } : apiErrorFacts(k8s, err);
  }
}

function stoppedError(): CastellanError<BundleConfigMapErrorCode> {
  return new CastellanError('ERR_BUNDLE_PUBLISHER_STOPPED', 'bundle-configmaps: publisher stopped before the bundle was published');
}

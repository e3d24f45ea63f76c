import type { CoordinationV1Api, KubeConfig, V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiStatus, callOptions, describeApiError, kubeModule, type KubeModule } from './kube-api.js';

/** Who runs the singleton jobs (intermediate rotation, bundle ConfigMaps, report clean-up). */
export interface Leadership {
  isLeader(): boolean;
  /** Calls `listener` on every change of leadership until the returned function is called. */
  subscribe(listener: (leader: boolean) => void): () => void;
  /** The holder as last seen (for /readyz detail, `check`); undefined when unknown. */
  holder(): string | undefined;
  stop(): Promise<void>;
}

/** One CA on one host (the directory store): it is always the leader. */
export const alwaysLeader: Leadership = Object.freeze({
  isLeader: () => true,
  subscribe: () => () => {},
  holder: () => undefined,
  stop: async () => {},
});

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The Lease. Default `castellan-leader`. */
  readonly leaseName?: string;
  /** This replica's name in the Lease (the pod name). */
  readonly identity: string;
  /** A leader that has not renewed for this long is replaced, ms. Default 15000. */
  readonly leaseDurationMs?: number;
  /** A leader that cannot renew for this long steps down itself, ms (< leaseDuration). Default 10000. */
  readonly renewDeadlineMs?: number;
  /** How often the Lease is read or renewed, ms. Default 2000. */
  readonly retryPeriodMs?: number;
  readonly now?: () => Date;
  readonly log: Logger;
}

/**
 * Leader election with a `coordination.k8s.io/v1` Lease (docs/kubernetes.md): exactly one replica holds
 * it and renews it; the others keep signing and take over when it has not been renewed for the lease
 * duration, measured on their own clock from when they last saw it change (so clock skew between pods
 * does not matter). Every write carries the Lease's resourceVersion: two replicas never both win. A
 * leader that cannot renew before its deadline steps down before anyone can take over. A replica that
 * stops releases the Lease, so the next one takes over at once.
 *
 * @example const le = new LeaderElection({ kubeConfig, namespace, identity: hostname(), log }); le.start(); if (le.isLeader()) ...
 */
export class LeaderElection implements Leadership {
  private leader = false;
  private lastRenew = 0;
  private observed: { key: string; at: number } | undefined;
  private lastHolder: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private readonly abort = new AbortController();
  private client: Promise<{ k8s: KubeModule; api: CoordinationV1Api }> | undefined;
  private readonly name: string;
  private readonly durationMs: number;
  private readonly deadlineMs: number;
  private readonly now: () => Date;
  private warned = false;

  constructor(private readonly o: LeaderElectionOptions) {
    this.name = o.leaseName ?? 'castellan-leader';
    this.durationMs = o.leaseDurationMs ?? 15_000;
    this.deadlineMs = Math.min(o.renewDeadlineMs ?? 10_000, this.durationMs - 1_000);
    this.now = o.now ?? (() => new Date());
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.retryPeriodMs ?? 2_000);
    this.timer.unref();
    void this.tick();
  }

  isLeader(): boolean {
    return this.leader;
  }

  holder(): string | undefined {
    return this.lastHolder;
  }

  subscribe(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One round now (tests). */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    if (this.leader) {
      // Release: an empty holder and a 1 s lease let the next replica take over at once.
      try {
        const { k8s, api } = await this.api();
        const lease = await api.readNamespacedLease({ name: this.name, namespace: this.o.namespace }, this.opts(k8s));
        if (lease.spec?.holderIdentity === this.o.identity) {
          lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new k8s.V1MicroTime() };
          await api.replaceNamespacedLease({ name: this.name, namespace: this.o.namespace, body: lease }, this.opts(k8s));
        }
      } catch (err) {
        this.o.log.warn({ err: await this.describe(err) }, 'leader election: could not release the lease; another replica takes over when it expires');
      }
      this.set(false);
    }
    this.abort.abort();
  }

  private async round(): Promise<void> {
    const now = this.now().getTime();
    try {
      const ok = await this.tryAcquireOrRenew(now);
      if (ok) this.lastRenew = now;
      this.set(ok);
      this.warned = false;
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        this.o.log.warn(
          { err: await this.describe(err), lease: `${this.o.namespace}/${this.name}` },
          'leader election: cannot reach the lease; the CA keeps signing, singleton jobs wait',
        );
      }
      // Step down before anyone else may take over: never two leaders.
      if (this.leader && now - this.lastRenew >= this.deadlineMs) this.set(false);
    }
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const { k8s, api } = await this.api();
    const ns = this.o.namespace;
    let lease: V1Lease | undefined;
    try {
      lease = await api.readNamespacedLease({ name: this.name, namespace: ns }, this.opts(k8s));
    } catch (err) {
      if (apiStatus(k8s, err) !== 404) throw err;
    }
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
      renewTime: new k8s.V1MicroTime(now),
    };
    if (!lease) {
      try {
        await api.createNamespacedLease(
          {
            namespace: ns,
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.name, namespace: ns },
              spec: { ...spec, acquireTime: new k8s.V1MicroTime(now), leaseTransitions: 0 },
            },
          },
          this.opts(k8s),
        );
        this.lastHolder = this.o.identity;
        this.o.log.info({ lease: `${ns}/${this.name}` }, 'leader election: this replica is the leader (lease created)');
        return true;
      } catch (err) {
        if (apiStatus(k8s, err) === 409) return false; // another replica created it first
        throw err;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    this.lastHolder = holder || undefined;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string | Date).toISOString() : '';
    const key = `${holder}|${renewed}|${lease.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: now };
    const durationMs = (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.durationMs / 1000)) * 1000;
    const mine = holder === this.o.identity;
    const expired = holder === '' || now - this.observed.at >= durationMs;
    if (!mine && !expired) return false;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        ...(mine ? {} : { acquireTime: new k8s.V1MicroTime(now), leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      await api.replaceNamespacedLease({ name: this.name, namespace: ns, body }, this.opts(k8s));
    } catch (err) {
      if (apiStatus(k8s, err) === 409) return false; // someone else wrote it first: they lead
      throw err;
    }
    if (!mine) {
      this.o.log.info({ lease: `${ns}/${this.name}`, previous: holder || '(released)' }, 'leader election: this replica took over the lease');
      this.lastHolder = this.o.identity;
    }
    return true;
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (!leader) this.o.log.warn({ lease: `${this.o.namespace}/${this.name}` }, 'leader election: this replica is no longer the leader');
    for (const l of this.listeners) l(leader);
  }

  private api() {
    this.client ??= kubeModule().then((k8s) => ({ k8s, api: this.o.kubeConfig.makeApiClient(k8s.CoordinationV1Api) }));
    return this.client;
  }

  private opts(k8s: KubeModule) {
    return callOptions(k8s, this.abort.signal, 5_000);
  }

  private async describe(err: unknown): Promise<string> {
    return describeApiError(await kubeModule(), err);
  }
}

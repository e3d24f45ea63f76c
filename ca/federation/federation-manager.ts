import { promises as fs } from 'node:fs';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { isCastellanError, parseSpiffeBundle, TrustDomain, type SpiffeBundle } from '../../workload-identity/index.js';
import type { LifecycleRecorder } from '../authority-rotation.js';
import { certificatesFromPem } from '../certificate-info.js';
import { caError } from '../errors.js';
import type { CaDirectory } from '../load-ca.js';
import type { CaStore, FederationReport } from '../store/index.js';
import { fetchFailureOf, fetchFederatedBundle, type FederationTarget, type FetchFailure } from './bundle-fetcher.js';
import { commitFederationChange, storedFederatedBundles } from './federation-state.js';

/** One entry of `federation.trustDomains` (docs/federation.md). */
export interface FederationTrustDomainConfig {
  readonly trustDomain: string;
  readonly bundleEndpointUrl: string;
  readonly profile: 'https_web' | 'https_spiffe';
  readonly endpointSpiffeId?: string | undefined;
  readonly initialBundle?: string | undefined;
  readonly caFile?: string | undefined;
  readonly refreshInterval?: number | undefined;
}

/** Refresh bounds around the publisher's hint (SPIFFE Trust Domain and Bundle §6.1: minutes, not weeks). */
export const MIN_REFRESH_MS = 30_000;
export const MAX_REFRESH_MS = 3_600_000;
export const DEFAULT_REFRESH_MS = 300_000;

export interface FederationManagerOptions {
  readonly store: CaStore;
  readonly trustDomains: readonly FederationTrustDomainConfig[];
  /** The CA as served now (own roots, stored federated bundles). */
  readonly current: () => CaDirectory;
  readonly ledger?: LifecycleRecorder;
  /** Whether this replica runs the singleton jobs (fetches and commits); default always. */
  readonly isLeader?: () => boolean;
  /** After a commit: look at the store now (the server applies the new bundle sequence). */
  readonly afterCommit?: () => Promise<void>;
  /** Published status changed (the agent report carries it). */
  readonly onStatus?: () => void;
  readonly registry?: Registry;
  readonly fetchTimeoutMs?: number;
  readonly now: () => Date;
  readonly log: Logger;
}

interface Entry {
  readonly config: FederationTrustDomainConfig;
  readonly target: FederationTarget;
  readonly initial?: SpiffeBundle;
  timer?: NodeJS.Timeout | undefined;
  lastSuccess?: Date;
  lastError?: { reason: FetchFailure; message: string; at: Date };
  failures: number;
  intervalMs: number;
  running?: Promise<void> | undefined;
}

/**
 * SPIFFE federation (docs/federation.md, SPIFFE Federation §6): for every configured trust domain the
 * leader fetches its bundle from its endpoint, at the publisher's refresh hint (30 s to 1 h; 5 min
 * without one) or the configured interval, and commits each change to the CA state, where every
 * replica picks it up and pushes it to its agents. A fetch that fails in any way (down, slow, garbage,
 * another trust domain, no keys, a lower spiffe_sequence, too large) changes nothing: the last good
 * bundle stays; the failure is logged, counted in `castellan_federation_refresh_total{outcome}`,
 * flagged by `castellan_federation_failing` and published for `castellan check`; the next attempt comes
 * at the next interval (§6.2: no aggressive retries). Trust domains no longer configured are removed.
 *
 * @example const m = await FederationManager.create({ store, trustDomains: config.federation.trustDomains, current: () => server.directory, now, log }); m.start();
 */
export class FederationManager {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private started = false;
  private refreshes?: Counter<'trust_domain' | 'outcome'>;

  private constructor(private readonly o: FederationManagerOptions) {
    if (o.registry) this.registerMetrics(o.registry);
  }

  /** Registers the federation metrics (once) in the CA's registry. */
  registerMetrics(registry: Registry): void {
    if (this.refreshes) return;
    {
      const registers = [registry];
      this.refreshes = new Counter({
        name: 'castellan_federation_refresh_total',
        help: 'Fetches of federated bundles, by trust domain and outcome (ok, or why the last good bundle was kept).',
        labelNames: ['trust_domain', 'outcome'],
        registers,
      });
      const entries = this.entries;
      new Gauge({
        name: 'castellan_federation_failing',
        help: "1 while the fetches of a federated trust domain's bundle fail (the last good one is served), else 0.",
        labelNames: ['trust_domain'],
        registers,
        collect() {
          this.reset();
          for (const [td, e] of entries) this.set({ trust_domain: td }, e.failures > 0 ? 1 : 0);
        },
      });
      new Gauge({
        name: 'castellan_federation_last_success_timestamp_seconds',
        help: "When a federated trust domain's bundle was last fetched and found good (on the leader).",
        labelNames: ['trust_domain'],
        registers,
        collect() {
          this.reset();
          for (const [td, e] of entries) if (e.lastSuccess) this.set({ trust_domain: td }, e.lastSuccess.getTime() / 1000);
        },
      });
    }
  }

  /** Reads every configured initialBundle (SPIFFE bundle JSON or PEM roots): a bad one fails the start. */
  static async create(o: FederationManagerOptions): Promise<FederationManager> {
    const m = new FederationManager(o);
    const own = o.current().trustDomain.name;
    for (const c of o.trustDomains) {
      if (c.trustDomain === own) throw caError('ERR_CONFIG', `config: federation.trustDomains: ${own} is this CA's own trust domain`);
      const td = TrustDomain.of(c.trustDomain);
      const initial = c.initialBundle === undefined ? undefined : await readInitialBundle(td, c.initialBundle);
      const caPem = c.caFile === undefined ? undefined : await readText(c.caFile, `federation.trustDomains[${c.trustDomain}].caFile`);
      m.entries.set(c.trustDomain, {
        config: c,
        target: {
          trustDomain: td,
          url: new URL(c.bundleEndpointUrl),
          profile: c.profile,
          ...(c.endpointSpiffeId ? { endpointSpiffeId: c.endpointSpiffeId } : {}),
          ...(caPem !== undefined ? { caPem } : {}),
        },
        ...(initial ? { initial } : {}),
        failures: 0,
        intervalMs: c.refreshInterval ?? DEFAULT_REFRESH_MS,
      });
    }
    return m;
  }

  /** Starts the refresh loop (it acts only while this replica leads). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.prune();
    for (const e of this.entries.values()) this.schedule(e, 0);
  }

  /** The leader became the leader again (or lost it): look at every trust domain now. */
  leadershipChanged(leader: boolean): void {
    if (!leader || this.stopped) return;
    void this.prune();
    for (const e of this.entries.values()) this.schedule(e, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
    await Promise.all([...this.entries.values()].map((e) => e.running));
  }

  /** What the leader publishes (undefined on other replicas). */
  report(): FederationReport[] | undefined {
    if (this.o.isLeader && !this.o.isLeader()) return undefined;
    return [...this.entries.entries()].map(([td, e]) => ({
      trustDomain: td,
      endpoint: e.config.bundleEndpointUrl,
      ...(e.lastSuccess ? { lastSuccess: e.lastSuccess.toISOString() } : {}),
      ...(e.lastError && e.failures > 0 ? { lastError: { reason: e.lastError.reason, message: e.lastError.message, at: e.lastError.at.toISOString() } } : {}),
      failures: e.failures,
      intervalMs: e.intervalMs,
    }));
  }

  /** Fetches every trust domain now and waits (tests, and `castellan federation` against a running CA later). */
  async refreshAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.refresh(e)));
  }

  private leader(): boolean {
    return !this.o.isLeader || this.o.isLeader();
  }

  private schedule(e: Entry, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      void this.refresh(e).finally(() => this.schedule(e, e.intervalMs));
    }, delayMs);
    e.timer.unref();
  }

  /** Stored bundles of trust domains no longer configured go (SPIFFE Federation §6.3). */
  private async prune(): Promise<void> {
    if (!this.leader()) return;
    const configured = new Set(this.entries.keys());
    for (const f of Object.keys(this.o.current().snapshot.state.federation ?? {})) {
      if (configured.has(f)) continue;
      try {
        if (await commitFederationChange(this.o.store, { kind: 'remove', trustDomain: f, reason: 'no longer in federation.trustDomains' }, this.o.ledger, this.o.now())) {
          this.o.log.info({ trustDomain: f }, 'federation: removed the bundle of a trust domain no longer configured');
          await this.o.afterCommit?.();
        }
      } catch (err) {
        this.o.log.error({ err, trustDomain: f }, 'federation: cannot remove the bundle of a trust domain no longer configured; retrying later');
      }
    }
  }

  private refresh(e: Entry): Promise<void> {
    if (e.running) return e.running;
    e.running = this.refreshOnce(e).finally(() => (e.running = undefined));
    return e.running;
  }

  private async refreshOnce(e: Entry): Promise<void> {
    if (!this.leader() || this.stopped) return;
    const td = e.target.trustDomain.name;
    const stored = storedFederatedBundles(this.o.current().snapshot.state).find((f) => f.bundle.trustDomain.name === td);
    // Nothing stored yet: the configured initial bundle is the starting point (SPIFFE Federation §5.2.2.2).
    if (!stored && e.initial) {
      try {
        if (await commitFederationChange(this.o.store, { kind: 'set', bundle: e.initial, source: 'initial' }, this.o.ledger, this.o.now())) {
          this.o.log.info({ trustDomain: td }, 'federation: stored the configured initial bundle');
          await this.o.afterCommit?.();
        }
      } catch (err) {
        this.o.log.error({ err, trustDomain: td }, 'federation: cannot store the initial bundle');
      }
    }
    let bundle: SpiffeBundle;
    try {
      bundle = await fetchFederatedBundle(e.target, {
        rootsFor: (name) => this.rootsFor(name),
        ...(this.o.fetchTimeoutMs !== undefined ? { timeoutMs: this.o.fetchTimeoutMs } : {}),
      });
      // Only the endpoint's own earlier answers bind it; an operator's initial bundle may carry any sequence.
      const prev = storedFederatedBundles(this.o.current().snapshot.state).find((f) => f.bundle.trustDomain.name === td)?.stored;
      const have = prev?.source === 'endpoint' ? prev.sequence : undefined;
      if (bundle.sequence !== undefined && have !== undefined && bundle.sequence < have) {
        throw caError(
          'ERR_FEDERATION',
          `federation: ${e.config.bundleEndpointUrl} served spiffe_sequence ${bundle.sequence}, lower than the ${have} already held; keeping the newer bundle`,
          { context: { reason: 'sequence-backwards' } },
        );
      }
    } catch (err) {
      this.failed(e, err);
      return;
    }
    e.intervalMs = e.config.refreshInterval ?? Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, (bundle.refreshHintSeconds ?? DEFAULT_REFRESH_MS / 1000) * 1000));
    try {
      const changed = await commitFederationChange(this.o.store, { kind: 'set', bundle, source: 'endpoint', endpoint: e.config.bundleEndpointUrl }, this.o.ledger, this.o.now());
      if (changed) {
        this.o.log.info(
          { trustDomain: td, spiffeSequence: bundle.sequence, x509Authorities: bundle.x509Authorities.length, jwtAuthorities: bundle.jwtAuthorities.length },
          'federation: bundle updated',
        );
        await this.o.afterCommit?.();
      }
    } catch (err) {
      // The bundle was good, the store is not: the next interval tries again.
      this.o.log.error({ err, trustDomain: td }, 'federation: cannot store the fetched bundle; retrying at the next interval');
      return;
    }
    const wasFailing = e.failures > 0;
    e.failures = 0;
    e.lastSuccess = this.o.now();
    this.refreshes?.inc({ trust_domain: td, outcome: 'ok' });
    if (wasFailing) {
      this.o.log.info({ trustDomain: td }, 'federation: the bundle endpoint works again');
      this.o.onStatus?.();
    }
  }

  private failed(e: Entry, err: unknown): void {
    const td = e.target.trustDomain.name;
    const reason = isCastellanError(err, 'ERR_FEDERATION') ? ((err.context as { reason?: FetchFailure }).reason ?? 'unreachable') : fetchFailureOf(err);
    e.failures++;
    e.lastError = { reason, message: (err as Error).message, at: this.o.now() };
    this.refreshes?.inc({ trust_domain: td, outcome: reason });
    this.o.log.warn(
      { trustDomain: td, reason, failures: e.failures, detail: (err as Error).message, retryInMs: e.intervalMs },
      'federation: cannot refresh the bundle; the last good bundle stays in use',
    );
    this.o.onStatus?.();
  }

  /** The latest roots of a trust domain: this CA's own, a stored federated bundle, or a configured initial one. */
  private rootsFor(name: string): readonly Buffer[] | undefined {
    const ca = this.o.current();
    if (name === ca.trustDomain.name) return ca.bundle.map((c) => c.der);
    const stored = storedFederatedBundles(ca.snapshot.state).find((f) => f.bundle.trustDomain.name === name);
    if (stored) return stored.bundle.x509Authorities;
    return this.entries.get(name)?.initial?.x509Authorities;
  }
}

/** An initial bundle file: a SPIFFE bundle (JSON), or PEM roots (SPIFFE Federation §5.2.2.2 allows other formats). */
async function readInitialBundle(td: TrustDomain, file: string): Promise<SpiffeBundle> {
  const text = await readText(file, `federation.trustDomains[${td.name}].initialBundle`);
  try {
    if (text.trimStart().startsWith('{')) return parseSpiffeBundle(td, text);
    const roots = certificatesFromPem(text, { code: 'ERR_CONFIG', what: `config: ${file}` }).map((c) => c.der);
    if (roots.length === 0) throw new Error('no certificate');
    return parseSpiffeBundle(td, JSON.stringify({ keys: roots.map((der) => ({ use: 'x509-svid', kty: 'EC', x5c: [der.toString('base64')] })) }));
  } catch (cause) {
    throw caError(
      'ERR_CONFIG',
      `config: federation.trustDomains[${td.name}].initialBundle ${file} is neither a SPIFFE bundle nor PEM roots of ${td.name}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (cause) {
    throw caError('ERR_CONFIG', `config: ${what}: cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
}

import { generateKeyPairSync } from 'node:crypto';
import type { CaDirectory, Issuer } from '../../ca/index.js';
import type { IdentitySnapshot, SecretChange, SecretProvider, SecretWatch, StreamCaller } from '../../sds/index.js';
import { CastellanError, createSvidRequest, pemDecode, SpiffeId, TrustBundle, X509Svid } from '../../workload-identity/index.js';
import { testCa } from './test-ca.js';

/**
 * A SecretProvider for protocol tests, backed by a real CA built with our own code. `rotate()` issues a
 * new leaf; `changeBundle()` adds a root to the bundle (a prepared root, docs/architecture.md §6). Listeners are called
 * like the agent does: `bundle` to every watch first, then `svid`.
 *
 * Node mode: `tokens` maps a token to the workload path it proves; an unknown token is ERR_TOKEN_REJECTED.
 */
export class StaticSecretProvider implements SecretProvider {
  #snapshots = new Map<string, IdentitySnapshot>();
  #listeners = new Set<{ path: string; fn: (c: ReadonlySet<SecretChange>) => void }>();
  #bundle: TrustBundle;
  /** Every watch opened and not closed (tests assert streams release their watch). */
  openWatches = 0;
  /** What callers asked with (tests assert the token reached the provider). */
  readonly callers: StreamCaller[] = [];
  /** When set, `watch` rejects with it. */
  failWith: CastellanError | undefined;
  /** When set, a watch's `current()` throws (a server bug while serving an opened watch). */
  brokenSnapshot = false;

  private constructor(
    readonly ca: CaDirectory,
    readonly issuer: Issuer,
    readonly cleanup: () => void,
    readonly defaultPath: string,
    readonly tokens: ReadonlyMap<string, string>,
  ) {
    this.#bundle = bundleOf(
      ca,
      ca.bundle.map((c) => c.der),
      1,
    );
  }

  static async create(o: { trustDomain?: string; path?: string; tokens?: Record<string, string> } = {}): Promise<StaticSecretProvider> {
    const t = await testCa({ trustDomain: o.trustDomain ?? 'cluster.local' });
    const p = new StaticSecretProvider(t.ca, t.issuer, t.cleanup, o.path ?? '/ns/default/sa/web', new Map(Object.entries(o.tokens ?? {})));
    await p.#issue(p.defaultPath);
    for (const path of new Set(Object.values(o.tokens ?? {}))) await p.#issue(path);
    return p;
  }

  get bundle(): TrustBundle {
    return this.#bundle;
  }

  /** The current snapshot of a workload path (default: the sidecar's). */
  snapshot(path = this.defaultPath): IdentitySnapshot {
    return this.#snapshots.get(path)!;
  }

  async watch(caller: StreamCaller): Promise<SecretWatch> {
    this.callers.push(caller);
    if (this.failWith) throw this.failWith;
    let path = this.defaultPath;
    if (this.tokens.size > 0) {
      if (caller.token === undefined) throw new CastellanError('ERR_TOKEN_MISSING', 'test: no token');
      const p = this.tokens.get(caller.token);
      if (!p) throw new CastellanError('ERR_TOKEN_REJECTED', 'test: token not accepted');
      path = p;
    }
    this.openWatches += 1;
    let closed = false;
    const listeners = new Set<{ path: string; fn: (c: ReadonlySet<SecretChange>) => void }>();
    return {
      current: () => {
        if (this.brokenSnapshot) throw new Error('test: broken snapshot');
        return this.#snapshots.get(path)!;
      },
      onChange: (fn) => {
        const entry = { path, fn };
        this.#listeners.add(entry);
        listeners.add(entry);
        return () => {
          this.#listeners.delete(entry);
          listeners.delete(entry);
        };
      },
      // A static provider never revokes a watch.
      onRevoked: () => () => undefined,
      close: () => {
        if (closed) return;
        closed = true;
        this.openWatches -= 1;
        for (const l of listeners) this.#listeners.delete(l);
      },
    };
  }

  /** Issues a new leaf for `path` and notifies its watches with `svid`. */
  async rotate(path = this.defaultPath): Promise<X509Svid> {
    const publish = await this.stageRotation(path);
    publish();
    return this.snapshot(path).svid;
  }

  /** Issues the next leaf of `path` without serving it yet; the returned function swaps it in and notifies. */
  async stageRotation(path = this.defaultPath): Promise<() => void> {
    const current = this.#snapshots.get(path);
    await this.#issue(path);
    const next = this.#snapshots.get(path)!;
    if (current) this.#snapshots.set(path, current);
    return () => {
      this.#snapshots.set(path, { svid: next.svid, bundles: [this.#bundle] });
      this.#notify(new Set(['svid']), path);
    };
  }

  /**
   * Adds a fresh self-signed root to the bundle (sequence + 1), notifies every watch with `bundle`, then
   * re-issues every leaf and notifies `svid`: the agent's order.
   */
  async changeBundle(): Promise<TrustBundle> {
    const extra = await testCa({ trustDomain: this.ca.trustDomain.name });
    extra.cleanup();
    this.#bundle = bundleOf(this.ca, [...this.#bundle.roots, ...extra.ca.bundle.map((c) => c.der)], this.#bundle.sequence + 1);
    for (const [path, s] of this.#snapshots) this.#snapshots.set(path, { svid: s.svid, bundles: [this.#bundle] });
    this.#notify(new Set(['bundle']));
    for (const path of [...this.#snapshots.keys()]) await this.#issue(path);
    this.#notify(new Set(['svid']));
    return this.#bundle;
  }

  #notify(changed: ReadonlySet<SecretChange>, path?: string): void {
    for (const l of [...this.#listeners]) if (path === undefined || l.path === path) l.fn(changed);
  }

  async #issue(path: string): Promise<void> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = SpiffeId.parse(`spiffe://${this.ca.trustDomain.name}${path}`);
    const csr = await createSvidRequest(privateKey, id);
    const cert = this.issuer.issue(id, csr, { ttlMs: 3_600_000 });
    // The workload's chain: leaf and intermediates, never the root (X509-SVID §5 lets it be left out).
    const chainPems = [cert.leafPem, ...cert.chainPem.slice(0, -1)];
    this.#snapshots.set(path, {
      svid: X509Svid.of(
        chainPems.flatMap((p) => pemDecode(p, 'CERTIFICATE')),
        privateKey,
      ),
      bundles: [this.#bundle],
    });
  }
}

function bundleOf(ca: CaDirectory, roots: readonly Buffer[], sequence: number): TrustBundle {
  return TrustBundle.of({ trustDomain: ca.trustDomain, sequence, roots });
}

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { TrustBundle, X509Svid } from '../workload-identity/index.js';
import type { BundleSet, IdentitySnapshot, SecretChange, SecretWatch } from './secret-source.js';

type Listener = (changed: ReadonlySet<SecretChange>) => void;

const BUNDLE: ReadonlySet<SecretChange> = new Set<SecretChange>(['bundle']);
const SVID: ReadonlySet<SecretChange> = new Set<SecretChange>(['svid']);

const fingerprints = new WeakMap<TrustBundle | BundleSet, string>();

/** A digest of everything a bundle serves: trust domain, sequence, roots and JWT keys. */
function fingerprint(b: TrustBundle): string {
  let hit = fingerprints.get(b);
  if (hit === undefined) {
    const h = createHash('sha256').update(`${b.trustDomain.name}\n${b.sequence}\n${b.rootsPem}\n`);
    for (const a of b.jwtAuthorities ?? []) h.update(`jwt ${a.keyId} `).update(a.publicKey.export({ format: 'der', type: 'spki' }));
    hit = h.digest('hex');
    fingerprints.set(b, hit);
  }
  return hit;
}

/** A digest of a bundle set: the own bundle's, then every federated bundle's, in order. */
function setFingerprint(s: BundleSet): string {
  let hit = fingerprints.get(s);
  if (hit === undefined) {
    const h = createHash('sha256').update(`own ${fingerprint(s.own)}\n`);
    for (const f of s.federated) h.update(`federated ${fingerprint(f)}\n`);
    hit = h.digest('hex');
    fingerprints.set(s, hit);
  }
  return hit;
}

/**
 * Same content in the same order: roots, JWT keys, federated bundles, and the sequence (which alone may
 * restart after a CA directory is recreated).
 */
export function sameBundles(a: BundleSet | undefined, b: BundleSet): boolean {
  if (a === undefined) return false;
  if (a === b) return true; // the usual case: the agent's current set offered again
  return a.own.trustDomain.equals(b.own.trustDomain) && a.own.sequence === b.own.sequence && a.own.rootsPem === b.own.rootsPem && setFingerprint(a) === setFingerprint(b);
}

/** What a snapshot serves: the own bundle, then the federated ones (docs/federation.md). */
function bundlesOf(set: BundleSet): readonly TrustBundle[] {
  return Object.freeze([set.own, ...set.federated]);
}

/**
 * One identity's key, chain and trust bundle, and the streams watching them. Every change makes a new
 * immutable snapshot; when bundle and leaf change together the bundle is published first, then the
 * leaf, so servers push ROOTCA before the new certificate (docs/architecture.md §5: a peer must trust the new root
 * before it sees a leaf under it).
 *
 * @example
 *   const cache = new SecretCache();
 *   cache.update({ svid, bundles });
 *   const w = cache.watch(); w.onChange((c) => push(w.current(), c));
 */
export class SecretCache {
  private snapshot: IdentitySnapshot | undefined;
  /** The bundle set the snapshot's bundles were made from. */
  private bundleSet: BundleSet | undefined;
  private readonly listeners = new Set<Listener>();
  /** Open watches, each with its tag (node mode: the SHA-256 of the token its stream was opened with). */
  private readonly open = new Map<object, { tag: string | undefined; revoke(err: Error): void }>();
  private openWatches = 0;
  private readyWaiters: (() => void)[] = [];

  /**
   * @param onIdle called when the last watch closes (node mode forgets idle identities).
   * @param log where a failing listener is reported (a bug in a stream's push; the others still get theirs).
   */
  constructor(
    private readonly onIdle: () => void = () => undefined,
    private readonly log?: Pick<Logger, 'error'>,
  ) {}

  current(): IdentitySnapshot | undefined {
    return this.snapshot;
  }

  /** Open watches (streams). */
  get watchers(): number {
    return this.openWatches;
  }

  /** Resolves once the first snapshot exists. */
  ready(): Promise<void> {
    if (this.snapshot) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * Installs a new SVID and/or bundle. A bundle equal to the current one is no change. Listeners see
   * `bundle` first and then `svid`, each after the snapshot that carries it is in place.
   */
  update(u: { svid?: X509Svid; bundles?: BundleSet }): void {
    const prev = this.snapshot;
    const bundleChanged = u.bundles !== undefined && !sameBundles(this.bundleSet, u.bundles);
    const svidChanged = u.svid !== undefined && u.svid !== prev?.svid;
    if (!prev) {
      if (!u.svid || !u.bundles) throw new TypeError('SecretCache.update: the first update needs both svid and bundles');
      this.bundleSet = u.bundles;
      this.snapshot = Object.freeze({ svid: u.svid, bundles: bundlesOf(u.bundles) });
      for (const w of this.readyWaiters.splice(0)) w();
      return;
    }
    if (bundleChanged) {
      this.bundleSet = u.bundles;
      this.snapshot = Object.freeze({ svid: prev.svid, bundles: bundlesOf(u.bundles!) });
      this.emit(BUNDLE);
    }
    if (svidChanged) {
      this.snapshot = Object.freeze({ svid: u.svid!, bundles: this.snapshot!.bundles });
      this.emit(SVID);
    }
  }

  private emit(changed: ReadonlySet<SecretChange>): void {
    for (const l of [...this.listeners]) {
      try {
        l(changed);
      } catch (err) {
        // One stream's failing listener must not stop the push to the others; it is a bug, so say so.
        this.log?.error({ err, changed: [...changed] }, 'sds: a stream failed to take a secret change');
      }
    }
  }

  /**
   * Ends the watches tagged `tag` (every watch when undefined) with `err`: their revocation listeners
   * run, they get no further change and their `current()` throws `err`. Returns how many it ended.
   */
  revoke(err: Error, tag?: string): number {
    let n = 0;
    for (const w of [...this.open.values()]) {
      if (tag !== undefined && w.tag !== tag) continue;
      w.revoke(err);
      n++;
    }
    return n;
  }

  /** Tags of the open watches (with repeats: one per watch). */
  openTags(): (string | undefined)[] {
    return [...this.open.values()].map((w) => w.tag);
  }

  /** Forgets the snapshot (key, chain, bundle): after every watch was revoked, nothing of it stays. */
  clear(): void {
    this.snapshot = undefined;
    this.bundleSet = undefined;
  }

  /** A watch on this identity; requires the first snapshot. `tag` names it for `revoke`. */
  watch(tag?: string): SecretWatch {
    if (!this.snapshot) throw new TypeError('SecretCache.watch: no certificate yet (await ready() first)');
    const mine = new Set<Listener>();
    const onRevoked = new Set<(err: Error) => void>();
    let closed = false;
    let revoked: Error | undefined;
    const handle = {};
    this.openWatches++;
    const close = () => {
      if (closed) return;
      closed = true;
      this.open.delete(handle);
      for (const l of mine) this.listeners.delete(l);
      mine.clear();
      this.openWatches--;
      if (this.openWatches === 0) this.onIdle();
    };
    this.open.set(handle, {
      tag,
      revoke: (err) => {
        if (revoked) return;
        revoked = err;
        close();
        for (const l of [...onRevoked]) {
          try {
            l(err);
          } catch (e) {
            this.log?.error({ err: e }, 'sds: a stream failed to end after its watch was revoked');
          }
        }
        onRevoked.clear();
      },
    });
    return {
      current: () => {
        if (revoked) throw revoked;
        return this.snapshot!;
      },
      onChange: (listener) => {
        if (closed) return () => undefined;
        const l: Listener = (c) => listener(c);
        mine.add(l);
        this.listeners.add(l);
        return () => {
          mine.delete(l);
          this.listeners.delete(l);
        };
      },
      onRevoked: (listener) => {
        if (revoked) {
          listener(revoked);
          return () => undefined;
        }
        if (closed) return () => undefined;
        onRevoked.add(listener);
        return () => onRevoked.delete(listener);
      },
      close,
    };
  }
}

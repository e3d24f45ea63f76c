import { randomUUID } from 'node:crypto';
import { formatSpiffeBundle, parseSpiffeBundle, TrustDomain, type SpiffeBundle } from '../../workload-identity/index.js';
import { flushPendingRecords, type LifecycleRecorder } from '../authority-rotation.js';
import { bundlePemOf } from '../bundle-roots.js';
import { cloneCaState, type CaStateFile, type StoredFederatedBundle } from '../ca-state.js';
import { caError } from '../errors.js';
import type { CaStore } from '../store/index.js';

/** A federated trust domain's bundle as loaded from the CA state. */
export interface FederatedBundle {
  readonly bundle: SpiffeBundle;
  readonly stored: Readonly<StoredFederatedBundle>;
}

const parsed = new WeakMap<object, readonly FederatedBundle[]>();

/**
 * The federated bundles a CA state holds (docs/federation.md), sorted by trust domain; parsed once per
 * state object. An entry that no longer parses (edited by hand) is left out, not fatal: the CA keeps
 * serving its own trust domain.
 *
 * @example for (const f of storedFederatedBundles(ca.snapshot.state)) console.log(f.bundle.trustDomain.name);
 */
export function storedFederatedBundles(state: CaStateFile): readonly FederatedBundle[] {
  const hit = parsed.get(state);
  if (hit) return hit;
  const out: FederatedBundle[] = [];
  for (const [name, stored] of Object.entries(state.federation ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    try {
      out.push({ bundle: parseSpiffeBundle(TrustDomain.of(name), stored.bundle), stored: Object.freeze({ ...stored }) });
    } catch {
      // Unusable: `castellan federation list` and `castellan check` show it (federationProblems).
    }
  }
  parsed.set(state, out);
  return out;
}

/** Stored entries that do not parse any more (for `castellan check`). */
export function federationProblems(state: CaStateFile): string[] {
  const good = new Set(storedFederatedBundles(state).map((f) => f.bundle.trustDomain.name));
  return Object.keys(state.federation ?? {})
    .filter((name) => !good.has(name))
    .map((name) => `the stored bundle of federated trust domain ${name} cannot be parsed (the CA state was edited?)`);
}

/** What a federation transition changes. */
export type FederationChange =
  | { readonly kind: 'set'; readonly bundle: SpiffeBundle; readonly source: StoredFederatedBundle['source']; readonly endpoint?: string }
  | { readonly kind: 'remove'; readonly trustDomain: string; readonly reason: string };

/**
 * Commits one change of a federated bundle to the CA state (docs/federation.md): the bundle sequence
 * grows, so every replica pushes it to its agents, and a lifecycle record (`federated-bundle-updated`,
 * `federated-bundle-removed`) goes to the ledger. Re-runs on a concurrent commit; returns false when
 * the state already held exactly this (nothing committed).
 *
 * @example await commitFederationChange(store, { kind: 'set', bundle, source: 'endpoint', endpoint: url }, ledger, now);
 */
export async function commitFederationChange(store: CaStore, change: FederationChange, ledger: LifecycleRecorder | undefined, now: Date): Promise<boolean> {
  const committed = await store.exclusive(async () => {
    for (let attempt = 1; ; attempt++) {
      const snap = await store.read();
      if (!snap) throw caError('ERR_CA_DIR', `ca: ${store.location} holds no CA`);
      const state = cloneCaState(snap.state);
      const federation = { ...(state.federation ?? {}) };
      let event: string;
      let details: Record<string, string | number | boolean>;
      if (change.kind === 'set') {
        const name = change.bundle.trustDomain.name;
        const text = formatSpiffeBundle(change.bundle);
        if (federation[name]?.bundle === text) return false;
        federation[name] = {
          bundle: text,
          ...(change.bundle.sequence !== undefined ? { sequence: change.bundle.sequence } : {}),
          updatedAt: now.toISOString(),
          source: change.source,
        };
        event = 'federated-bundle-updated';
        details = {
          trustDomain: name,
          source: change.source,
          ...(change.endpoint ? { endpoint: change.endpoint } : {}),
          spiffeSequence: change.bundle.sequence ?? -1,
          x509Authorities: change.bundle.x509Authorities.length,
          jwtAuthorities: change.bundle.jwtAuthorities.length,
        };
      } else {
        if (federation[change.trustDomain] === undefined) return false;
        delete federation[change.trustDomain];
        event = 'federated-bundle-removed';
        details = { trustDomain: change.trustDomain, reason: change.reason };
      }
      if (Object.keys(federation).length === 0) delete state.federation;
      else state.federation = federation;
      state.bundleSequence = (state.bundleSequence ?? 1) + 1;
      details['bundleSequence'] = state.bundleSequence;
      state.pendingRecords = [...(state.pendingRecords ?? []), { transition: randomUUID(), event, details }];
      const bundlePem = await bundlePemOf(state.authorities, async (id) => (await snap.authority(id)).rootCertPem, store.location);
      try {
        await store.commit(snap, { state, add: new Map(), bundlePem });
        return true;
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_STORE_CONFLICT' || attempt >= 5) throw err;
      }
    }
  });
  // A ledger that is down leaves the record pending in the state; the CA's store follower writes it later.
  if (committed && ledger) await flushPendingRecords(store, ledger).catch(() => undefined);
  return committed;
}

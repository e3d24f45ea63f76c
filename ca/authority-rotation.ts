import { randomUUID } from 'node:crypto';
import { mintIntermediate, mintRootAuthority } from './authority-mint.js';
import { cloneCaState, type AuthorityRecord, type CaStateFile, type PendingRecord } from './ca-state.js';
import type { CertificateInfo } from './certificate-info.js';
import { caError } from './errors.js';
import { keyTypeOf, type KeyType } from './key-type.js';
import type { KeyProvider } from './key-provider.js';
import { bundlePemOf } from './bundle-roots.js';
import { loadCa, loadSnapshot, rootSignerOf, storeOf, type CaDirectory, type CaStoreRef, type LoadedAuthority } from './load-ca.js';
import type { CaStore, StoredAuthority, StoreSnapshot } from './store/index.js';

/** Where lifecycle records go (the ledger); absent: they stay pending in ca.json until one is given. */
export interface LifecycleRecorder {
  appendLifecycle(event: string, details: Record<string, unknown>): Promise<unknown>;
}

export interface RotationContext {
  /** The CA's store, or the path of its directory. */
  readonly store: CaStoreRef;
  readonly now?: Date;
  readonly ledger?: LifecycleRecorder;
  /** Where new keys are made and stored keys opened. Default: in this process. */
  readonly keys?: KeyProvider;
}

/** An agent as the CA last heard of it (docs/architecture.md §6: agents report the bundle sequence they serve). */
export interface AgentReport {
  readonly agentId: string;
  /** The identity it authenticated with (an agent id alone is only a claim). */
  readonly identity?: string;
  readonly peer?: string;
  readonly sequence: number;
  /** ISO time the CA last heard from it. */
  readonly lastSeen: string;
  /** Its trust-bundle stream is open now. */
  readonly connected: boolean;
}

/** What the CA knows about live agents; `known: false` when no running CA reported recently. */
export interface AgentView {
  readonly known: boolean;
  readonly why?: string;
  readonly live: readonly AgentReport[];
}

/** Leaves of an old root that are still valid (from the ledger). */
export interface LiveLeaves {
  readonly count: number;
  readonly lastNotAfter?: string;
}

/** The outcome of a transition: the directory after it and the records it produced. */
export interface RotationResult {
  readonly ca: CaDirectory;
  readonly records: readonly PendingRecord[];
  /** Pending records that could not be written to the ledger now (they are retried by the next command or the CA). */
  readonly ledgerError?: Error;
}

/**
 * `castellan root prepare`: a new root and an intermediate under it, plus that intermediate
 * cross-signed by the active root; the new root joins the trust bundle (next sequence). Refused while
 * another root is prepared.
 *
 * @example const { ca } = await prepareRoot({ dir, ledger }, { keyType: 'ec-p256' });
 */
export async function prepareRoot(ctx: RotationContext, o: { keyType?: KeyType; rootTtlMs?: number; intermediateTtlMs?: number } = {}): Promise<RotationResult> {
  return transition(ctx, async (state, ca, now) => {
    if (ca.prepared) {
      throw caError(
        'ERR_ROTATION_STATE',
        `root prepare: root ${ca.prepared.id} is already prepared (${ca.prepared.root.cert.subject}); activate it with 'castellan root activate'`,
      );
    }
    const id = nextAuthorityId(state);
    const keyType = o.keyType ?? keyTypeOf(ca.active.signer.publicKey);
    // Cross-signed by the active root when this CA holds its key (not for plugged-in cacerts) and the
    // root is still valid (an expired root can vouch for nothing: the cross-certificate would be expired).
    const oldRootExpired = ca.active.root.notAfter.getTime() <= now.getTime();
    const oldRootSigner = oldRootExpired ? undefined : await rootSignerOf(ca, ca.active);
    const minted = await mintRootAuthority({
      trustDomain: ca.trustDomain,
      generation: id,
      keys: ca.keys,
      keyType,
      now,
      ...(o.rootTtlMs !== undefined ? { rootTtlMs: o.rootTtlMs } : {}),
      intermediateTtlMs: o.intermediateTtlMs ?? lifetimeMs(ca.active.issuer),
      ...(oldRootSigner ? { crossSignBy: { root: ca.active.root, signer: oldRootSigner } } : {}),
    });
    const { root, issuer, crossSigned: cross } = minted;
    const sequence = nextSequence(state);
    state.authorities.push({ id, state: 'prepared', createdAt: now.toISOString(), source: 'generated', bundleSequenceAdded: sequence });
    state.bundleSequence = sequence;
    return {
      add: new Map([[id, minted.stored]]),
      event: 'root-prepared',
      details: {
        authority: id,
        keyType,
        rootSerial: root.serialHex,
        rootKeyId: root.ski.toString('hex'),
        rootNotAfter: root.notAfter.toISOString(),
        issuerSerial: issuer.serialHex,
        issuerKeyId: issuer.ski.toString('hex'),
        issuerNotAfter: issuer.notAfter.toISOString(),
        crossSignedBy: cross
          ? ca.active.root.ski.toString('hex')
          : oldRootExpired
            ? `none (the active root expired at ${ca.active.root.notAfter.toISOString()})`
            : 'none (the active root has no key here)',
        bundleSequence: sequence,
      },
    };
  });
}

/** Live agents that do not serve a bundle with `authority`'s root yet. */
export function staleAgents(authority: LoadedAuthority, agents: AgentView): AgentReport[] {
  const needed = authority.record.bundleSequenceAdded ?? Number.MAX_SAFE_INTEGER;
  return agents.live.filter((a) => a.sequence < needed);
}

/**
 * `castellan root activate`: the prepared authority signs from now on; the active one retires (its
 * root stays in the bundle). Refused, listing them, while a live agent does not serve a bundle with
 * the new root, or when no running CA reported its agents, unless `force`.
 */
export async function activateRoot(ctx: RotationContext, o: { agents: AgentView; force?: boolean; reissueSpreadSeconds: number }): Promise<RotationResult> {
  return transition(ctx, async (state, ca, now) => {
    const next = ca.prepared;
    if (!next) throw caError('ERR_ROTATION_STATE', "root activate: no root is prepared; run 'castellan root prepare' first");
    const stale = staleAgents(next, o.agents);
    if (!o.force) {
      if (!o.agents.known) {
        throw caError(
          'ERR_ROTATION_GATE',
          `root activate: refused: ${o.agents.why ?? 'no running CA reported its agents'}; Castellan cannot tell whether every agent trusts the new root. Start the CA and wait for its agents, or use --force if no agent exists`,
        );
      }
      if (stale.length > 0) {
        throw caError(
          'ERR_ROTATION_GATE',
          `root activate: refused: ${stale.length} live agent(s) do not serve bundle ${next.record.bundleSequenceAdded} (with root ${next.id}) yet: ${describeAgents(stale)}. ` +
            'Their workloads would reject leaves of the new root. Wait and retry (check their connection to the CA), or use --force',
          { context: { stale: stale.map((a) => a.agentId) } },
        );
      }
    }
    const old = ca.active;
    for (const rec of state.authorities) {
      if (rec.id === old.id) Object.assign(rec, { state: 'retired', retiredAt: now.toISOString(), inBundle: true });
      if (rec.id === next.id) Object.assign(rec, { state: 'active', activatedAt: now.toISOString() });
    }
    state.reissueSpreadSeconds = Math.max(1, Math.ceil(o.reissueSpreadSeconds));
    state.bundleSequence = nextSequence(state);
    return {
      event: 'root-activated',
      details: {
        authority: next.id,
        previous: old.id,
        issuerKeyId: next.issuer.ski.toString('hex'),
        forced: Boolean(o.force),
        staleAgents: stale.length,
        reissueSpreadSeconds: state.reissueSpreadSeconds,
        bundleSequence: state.bundleSequence,
      },
    };
  });
}

/** Retired slots whose root is not the active one and is still in the bundle (what `root retire` drops). */
export function retiringAuthorities(ca: CaDirectory): LoadedAuthority[] {
  return ca.authorities.filter((a) => a.state === 'retired' && a.record.inBundle !== false && !a.root.der.equals(ca.active.root.der));
}

/**
 * `castellan root retire`: drops the old root(s) from the bundle. Refused while leaves signed under them
 * are still valid (`liveLeaves` asks the ledger), unless `force`.
 */
export async function retireRoot(ctx: RotationContext, o: { liveLeaves: (issuerKeyIds: string[]) => Promise<LiveLeaves | undefined>; force?: boolean }): Promise<RotationResult> {
  return transition(ctx, async (state, ca, now) => {
    const going = retiringAuthorities(ca);
    if (going.length === 0) throw caError('ERR_ROTATION_STATE', 'root retire: no old root is left in the trust bundle; nothing to retire');
    if (ca.prepared && going.some((a) => a.root.der.equals(ca.prepared!.root.der))) {
      throw caError('ERR_ROTATION_STATE', 'root retire: the old root is also the prepared one; activate or prepare again first');
    }
    const keyIds = going.map((a) => a.issuer.ski.toString('hex'));
    const leaves = await o.liveLeaves(keyIds);
    if (!o.force) {
      if (leaves === undefined) {
        throw caError(
          'ERR_ROTATION_GATE',
          'root retire: refused: the ledger is disabled or unreadable, so Castellan cannot tell which leaves of the old root are still valid; use --force once they have expired',
        );
      }
      const serving = ca.authorities.filter((a) => keyIds.includes(a.issuer.ski.toString('hex'))).length;
      if (leaves.count > 0) {
        throw caError(
          'ERR_ROTATION_GATE',
          `root retire: refused: ${leaves.count} leaf certificate(s) signed under the old root (${serving} intermediate(s)) are still valid, the last until ${leaves.lastNotAfter}. ` +
            'Peers would reject them once the root leaves the bundle. Wait until then (agents re-issue under the new root), or use --force',
          { context: { liveLeaves: leaves.count } },
        );
      }
    }
    for (const rec of state.authorities) {
      if (going.some((a) => a.id === rec.id)) rec.inBundle = false;
    }
    delete state.reissueSpreadSeconds;
    state.bundleSequence = nextSequence(state);
    return {
      event: 'root-retired',
      details: {
        authorities: going.map((a) => a.id).join(','),
        rootKeyIds: [...new Set(going.map((a) => a.root.ski.toString('hex')))].join(','),
        forced: Boolean(o.force),
        liveLeaves: leaves?.count ?? -1,
        at: now.toISOString(),
        bundleSequence: state.bundleSequence,
      },
    };
  });
}

/**
 * Automatic intermediate rotation (docs/architecture.md §6): a new intermediate under the active root takes over at
 * once; the old one retires and stays valid, so its leaves keep working until they expire (overlap).
 * The root and thus the bundle's roots do not change.
 */
export async function rotateIntermediate(ctx: RotationContext, o: { ttlMs?: number; reason: string; expectIssuerSerial?: string }): Promise<RotationResult> {
  return transition(ctx, async (state, ca, now) => {
    const old = ca.active;
    if (o.expectIssuerSerial !== undefined && old.issuer.serialHex !== o.expectIssuerSerial) {
      // Another replica (or an operator) rotated first: nothing to do.
      throw caError('ERR_ROTATION_STATE', `intermediate rotation: already done (the active intermediate is now ${old.issuer.serialHex})`, { context: { alreadyRotated: true } });
    }
    if (old.root.notAfter.getTime() <= now.getTime()) {
      throw caError(
        'ERR_ROTATION_STATE',
        `intermediate rotation: the root of authority ${old.id} expired at ${old.root.notAfter.toISOString()}, so no intermediate under it can be valid; ` +
          "rotate the root instead: 'castellan root prepare', then 'castellan root activate --force' (docs/root-rotation.md)",
      );
    }
    const rootSigner = await rootSignerOf(ca, old);
    if (!rootSigner) {
      throw caError(
        'ERR_ROTATION_STATE',
        `intermediate rotation: the active root of authority ${old.id} has no key in ${ca.store.location} (plugged-in cacerts); give Castellan a new intermediate or prepare a new root`,
      );
    }
    if (old.parents.length > 1) {
      throw caError(
        'ERR_ROTATION_STATE',
        `intermediate rotation: authority ${old.id} has intermediates between its signing certificate and the root; rotate it where it was issued`,
      );
    }
    const id = nextAuthorityId(state);
    const minted = await mintIntermediate({
      trustDomain: ca.trustDomain,
      generation: id,
      keys: ca.keys,
      keyType: keyTypeOf(old.signer.publicKey),
      now,
      ttlMs: o.ttlMs ?? lifetimeMs(old.issuer),
      under: { root: old.root, signer: rootSigner },
    });
    const issuer = minted.issuer;
    if (issuer.notAfter.getTime() <= old.issuer.notAfter.getTime()) {
      throw caError(
        'ERR_ROTATION_STATE',
        `intermediate rotation: a new intermediate would not outlive the current one (the root expires ${old.root.notAfter.toISOString()}); rotate the root: 'castellan root prepare', then 'castellan root activate'`,
      );
    }
    const rootOf = old.record.rootOf ?? old.id;
    for (const rec of state.authorities) if (rec.id === old.id) Object.assign(rec, { state: 'retired', retiredAt: now.toISOString(), inBundle: true });
    state.authorities.push({
      id,
      state: 'active',
      createdAt: now.toISOString(),
      activatedAt: now.toISOString(),
      source: 'generated',
      rootOf,
      bundleSequenceAdded: old.record.bundleSequenceAdded ?? 1,
    });
    state.bundleSequence = nextSequence(state);
    return {
      add: new Map([[id, minted.stored]]),
      event: 'intermediate-rotated',
      details: {
        authority: id,
        previous: old.id,
        reason: o.reason,
        issuerSerial: issuer.serialHex,
        issuerKeyId: issuer.ski.toString('hex'),
        issuerNotAfter: issuer.notAfter.toISOString(),
        previousIssuerNotAfter: old.issuer.notAfter.toISOString(),
        bundleSequence: state.bundleSequence,
      },
    };
  });
}

/** When the active intermediate is due for rotation: `fraction` of its lifetime after its notBefore. */
export function intermediateRotationDue(ca: CaDirectory, fraction: number): Date {
  const i = ca.active.issuer;
  return new Date(i.notBefore.getTime() + fraction * lifetimeMs(i));
}

/**
 * Writes the lifecycle records that a transition committed but could not record (crash, ledger down)
 * to `ledger`, then clears them from the state. At-least-once: a crash between the two repeats a
 * record, recognisable by its `transition` id.
 */
export async function flushPendingRecords(ref: CaStoreRef, ledger: LifecycleRecorder): Promise<number> {
  const store = storeOf(ref);
  return store.exclusive(async () => {
    const snap = await store.read();
    const pending = snap?.state.pendingRecords ?? [];
    if (!snap || pending.length === 0) return 0;
    for (const r of pending) await ledger.appendLifecycle(r.event, { ...r.details, transition: r.transition });
    failpoint('after-ledger');
    await commitWithRetry(store, async (current) => {
      const after = cloneCaState(current.state);
      after.pendingRecords = (after.pendingRecords ?? []).filter((r) => !pending.some((p) => p.transition === r.transition));
      if (after.pendingRecords.length === 0) delete after.pendingRecords;
      return { state: after };
    });
    return pending.length;
  });
}

/**
 * Remembers the ledger this CA writes (the hash of its first record) in the state, once, so that a
 * ledger moved aside or replaced is refused at the next start (docs/ledger.md). No-op when the state
 * already names one.
 */
export async function rememberLedger(ref: CaStoreRef, genesis: string, now: Date = new Date()): Promise<void> {
  const store = storeOf(ref);
  await store.exclusive(() =>
    commitWithRetry(store, async (current) => {
      if (current.state.ledger) return undefined;
      const next = cloneCaState(current.state);
      next.ledger = { genesis, since: now.toISOString() };
      return { state: next };
    }),
  );
}

/** Brings a store back to a consistent state after a crash (a transition that died before its commit). */
export async function repairCaDir(ref: CaStoreRef): Promise<void> {
  await storeOf(ref).repair();
}

// ---- internals ----

/**
 * Crash injection for the crash-safety tests (SIGKILL at a named point of a transition): active only
 * when CASTELLAN_FAILPOINT names the point. Points: before-commit, after-commit, after-ledger.
 */
function failpoint(name: string): void {
  if (process.env['CASTELLAN_FAILPOINT'] === name) process.kill(process.pid, 'SIGKILL');
}

type Change = { event: string; details: Record<string, string | number | boolean>; add?: ReadonlyMap<number, StoredAuthority> };

/** How many times a transition runs again when another replica committed first. */
const CONFLICT_RETRIES = 5;

/**
 * Commits `change(current)` against the current snapshot, re-reading and re-running it when another
 * writer committed meanwhile (ERR_STORE_CONFLICT). `change` returns undefined when nothing is to do.
 */
async function commitWithRetry(
  store: CaStore,
  change: (current: StoreSnapshot) => Promise<{ state: CaStateFile; add?: ReadonlyMap<number, StoredAuthority> } | undefined>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const snap = await store.read();
    if (!snap) throw caError('ERR_CA_DIR', `ca: ${store.location} holds no CA`);
    const next = await change(snap);
    if (!next) return;
    const roots = await bundleAfter(store, snap, next.state, next.add);
    try {
      await store.commit(snap, { state: next.state, add: next.add ?? new Map(), bundlePem: roots });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_STORE_CONFLICT' || attempt >= CONFLICT_RETRIES) throw err;
    }
  }
}

/** The bundle PEM of a state about to be committed (its roots come from existing and added slots). */
function bundleAfter(store: CaStore, snap: StoreSnapshot, state: CaStateFile, add: ReadonlyMap<number, StoredAuthority> | undefined): Promise<string> {
  return bundlePemOf(state.authorities, async (id) => (add?.get(id) ?? (await snap.authority(id))).rootCertPem, store.location);
}

/**
 * One transition: serialised with others of the store, repair, read the state, let `change` compute the
 * next one (and new authority slots), commit it with the lifecycle record pending, then move the record
 * to the ledger. A crash at any point leaves either the old or the new state, never a mix; a replica
 * that committed first makes this one run again on the new state (and usually find nothing to do).
 */
async function transition(ctx: RotationContext, change: (state: CaStateFile, ca: CaDirectory, now: Date) => Promise<Change>): Promise<RotationResult> {
  const now = ctx.now ?? new Date();
  const store = storeOf(ctx.store);
  const keys = ctx.keys;
  const record = await store.exclusive(async () => {
    await store.repair();
    for (let attempt = 1; ; attempt++) {
      const snap = await store.read();
      if (!snap) throw caError('ERR_CA_DIR', `ca: ${store.location} holds no CA`);
      const ca = await loadSnapshot(store, snap, keys);
      const state = cloneCaState(snap.state);
      const c = await change(state, ca, now);
      failpoint('before-commit');
      const rec: PendingRecord = { transition: randomUUID(), event: c.event, details: c.details };
      state.pendingRecords = [...(state.pendingRecords ?? []), rec];
      try {
        await store.commit(snap, { state, add: c.add ?? new Map(), bundlePem: await bundleAfter(store, snap, state, c.add) });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_STORE_CONFLICT' && attempt < CONFLICT_RETRIES) continue;
        throw err;
      }
      failpoint('after-commit');
      return rec;
    }
  });
  let ledgerError: Error | undefined;
  if (ctx.ledger) {
    try {
      await flushPendingRecords(store, ctx.ledger);
    } catch (err) {
      ledgerError = err as Error;
    }
  }
  return { ca: await loadCa(store, keys), records: [record], ...(ledgerError ? { ledgerError } : {}) };
}

function nextSequence(state: CaStateFile): number {
  return (state.bundleSequence ?? 1) + 1;
}

function nextAuthorityId(state: CaStateFile): number {
  return Math.max(0, ...state.authorities.map((a: AuthorityRecord) => a.id)) + 1;
}

function lifetimeMs(c: CertificateInfo): number {
  return c.notAfter.getTime() - c.notBefore.getTime();
}

function describeAgents(agents: readonly AgentReport[]): string {
  const shown = agents.slice(0, 10).map((a) => `${a.agentId}${a.identity ? ` [${a.identity}]` : ''} (serves ${a.sequence}, last seen ${a.lastSeen})`);
  return shown.join(', ') + (agents.length > 10 ? ` and ${agents.length - 10} more` : '');
}

import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createIntermediateCertificate, createRootCertificate } from './authority-profile.js';
import { AUTHORITY_FILES, authorityDir, loadCa, type CaDirectory, type LoadedAuthority } from './ca-directory.js';
import { readCaState, syncBundleFile, writeCaState, type AuthorityRecord, type CaStateFile, type PendingRecord } from './ca-state.js';
import { certificateInfo, type CertificateInfo } from './certificate-info.js';
import { caError } from './errors.js';
import { readPrivateKeyFile, writeFileAtomic, writePrivateKeyFile } from './key-files.js';
import { generateKey, keyTypeOf, type KeyType } from './key-type.js';
import { lockFile } from './lock-file.js';
import { keyObjectSigner } from './signer.js';

const YEAR_MS = 365 * 86_400_000;
const LOCK_FILE = 'ca.lock';

/** Where lifecycle records go (the ledger); absent: they stay pending in ca.json until one is given. */
export interface LifecycleRecorder {
  appendLifecycle(event: string, details: Record<string, unknown>): Promise<unknown>;
}

export interface RotationContext {
  readonly dir: string;
  readonly now?: Date;
  readonly ledger?: LifecycleRecorder;
}

/** An agent as the CA last heard of it (DESIGN §6: agents report the bundle sequence they serve). */
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
 * Runs `fn` holding the CA directory's lock (`ca.lock`, O_EXCL): transitions of one directory never
 * interleave, whether they come from the CLI, another CLI or the CA server.
 */
export async function withCaLock<T>(dir: string, fn: () => Promise<T>, waitMs = 15_000): Promise<T> {
  const lock = path.join(dir, LOCK_FILE);
  const release = await lockFile(lock, {
    staleMs: 120_000,
    waitMs,
    fail: (reason, holder, cause) =>
      caError(
        'ERR_CA_LOCKED',
        reason === 'held'
          ? `ca: ${dir} is being changed by another castellan process (${holder ?? 'unknown'}, lock ${lock}); retry when it is done`
          : `ca: cannot lock ${lock}: ${reason}`,
        cause === undefined ? {} : { cause },
      ),
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}

/**
 * `castellan root prepare`: a new root and an intermediate under it, plus that intermediate
 * cross-signed by the active root; the new root joins the trust bundle (next sequence). Refused while
 * another root is prepared.
 *
 * @example const { ca } = await prepareRoot({ dir, ledger }, { keyType: 'ec-p256' });
 */
export async function prepareRoot(
  ctx: RotationContext,
  o: { keyType?: KeyType; rootTtlMs?: number; intermediateTtlMs?: number } = {},
): Promise<RotationResult> {
  return transition(ctx, async (state, ca, now) => {
    if (ca.prepared) {
      throw caError('ERR_ROTATION_STATE', `root prepare: root ${ca.prepared.id} is already prepared (${ca.prepared.root.cert.subject}); activate it with 'castellan root activate'`);
    }
    const id = await nextAuthorityId(state);
    const keyType = o.keyType ?? keyTypeOf(ca.active.signer.publicKey);
    const rootKey = generateKey(keyType).privateKey;
    const rootSigner = keyObjectSigner(rootKey);
    const root = certificateInfo(createRootCertificate({ trustDomain: ca.trustDomain, generation: id, signer: rootSigner, now, ttlMs: o.rootTtlMs ?? 10 * YEAR_MS }));
    const caKey = generateKey(keyType).privateKey;
    const caSigner = keyObjectSigner(caKey);
    const intermediateTtlMs = o.intermediateTtlMs ?? lifetimeMs(ca.active.issuer);
    const issuer = certificateInfo(
      createIntermediateCertificate({
        trustDomain: ca.trustDomain,
        generation: id,
        spki: caSigner.spki,
        issuer: { subject: root.subject, ski: root.ski, notAfter: root.notAfter, signer: rootSigner },
        now,
        ttlMs: intermediateTtlMs,
      }),
    );
    // The same subject and key under the active root: a peer that trusts only the old root can still
    // validate a leaf of the new intermediate when this certificate is sent with it.
    const oldRootKey = await rootKeyOf(ctx.dir, ca.active);
    const cross = oldRootKey
      ? certificateInfo(
          createIntermediateCertificate({
            trustDomain: ca.trustDomain,
            generation: id,
            spki: caSigner.spki,
            issuer: { subject: ca.active.root.subject, ski: ca.active.root.ski, notAfter: ca.active.root.notAfter, signer: keyObjectSigner(oldRootKey) },
            now,
            ttlMs: intermediateTtlMs,
          }),
        )
      : undefined;
    await writeAuthorityDir(ctx.dir, id, async (adir) => {
      await writePrivateKeyFile(path.join(adir, AUTHORITY_FILES.rootKey), rootKey);
      await writePrivateKeyFile(path.join(adir, AUTHORITY_FILES.caKey), caKey);
      await writeChainFiles(adir, issuer, root);
      if (cross) await writeFileAtomic(path.join(adir, AUTHORITY_FILES.crossCert), cross.pem, 0o644);
    });
    const sequence = nextSequence(state);
    state.authorities.push({ id, state: 'prepared', createdAt: now.toISOString(), source: 'generated', bundleSequenceAdded: sequence });
    state.bundleSequence = sequence;
    return {
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
        crossSignedBy: cross ? ca.active.root.ski.toString('hex') : 'none (the active root has no key here)',
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
        throw caError('ERR_ROTATION_GATE', `root activate: refused: ${o.agents.why ?? 'no running CA reported its agents'}; Castellan cannot tell whether every agent trusts the new root. Start the CA and wait for its agents, or use --force if no agent exists`);
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
        throw caError('ERR_ROTATION_GATE', 'root retire: refused: the ledger is disabled or unreadable, so Castellan cannot tell which leaves of the old root are still valid; use --force once they have expired');
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
 * Automatic intermediate rotation (DESIGN §6): a new intermediate under the active root takes over at
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
    const rootKey = await rootKeyOf(ctx.dir, old);
    if (!rootKey) {
      throw caError('ERR_ROTATION_STATE', `intermediate rotation: the active root of authority ${old.id} has no key in ${ctx.dir} (plugged-in cacerts); give Castellan a new intermediate or prepare a new root`);
    }
    if (old.parents.length > 1) {
      throw caError('ERR_ROTATION_STATE', `intermediate rotation: authority ${old.id} has intermediates between its signing certificate and the root; rotate it where it was issued`);
    }
    const id = await nextAuthorityId(state);
    const caKey = generateKey(keyTypeOf(old.signer.publicKey)).privateKey;
    const caSigner = keyObjectSigner(caKey);
    const ttlMs = o.ttlMs ?? lifetimeMs(old.issuer);
    const issuer = certificateInfo(
      createIntermediateCertificate({
        trustDomain: ca.trustDomain,
        generation: id,
        spki: caSigner.spki,
        issuer: { subject: old.root.subject, ski: old.root.ski, notAfter: old.root.notAfter, signer: keyObjectSigner(rootKey) },
        now,
        ttlMs,
      }),
    );
    if (issuer.notAfter.getTime() <= old.issuer.notAfter.getTime()) {
      throw caError('ERR_ROTATION_STATE', `intermediate rotation: a new intermediate would not outlive the current one (the root expires ${old.root.notAfter.toISOString()}); prepare a new root`);
    }
    await writeAuthorityDir(ctx.dir, id, async (adir) => {
      await writePrivateKeyFile(path.join(adir, AUTHORITY_FILES.caKey), caKey);
      await writeChainFiles(adir, issuer, old.root);
    });
    const rootOf = old.record.rootOf ?? old.id;
    for (const rec of state.authorities) if (rec.id === old.id) Object.assign(rec, { state: 'retired', retiredAt: now.toISOString(), inBundle: true });
    state.authorities.push({ id, state: 'active', createdAt: now.toISOString(), activatedAt: now.toISOString(), source: 'generated', rootOf, bundleSequenceAdded: old.record.bundleSequenceAdded ?? 1 });
    state.bundleSequence = nextSequence(state);
    return {
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
 * to `ledger`, then clears them from ca.json. At-least-once: a crash between the two repeats a record,
 * recognisable by its `transition` id.
 */
export async function flushPendingRecords(dir: string, ledger: LifecycleRecorder): Promise<number> {
  return withCaLock(dir, async () => {
    const state = await readCaState(dir);
    const pending = state.pendingRecords ?? [];
    if (pending.length === 0) return 0;
    for (const r of pending) await ledger.appendLifecycle(r.event, { ...r.details, transition: r.transition });
    failpoint('after-ledger');
    const after = await readCaState(dir);
    after.pendingRecords = (after.pendingRecords ?? []).filter((r) => !pending.some((p) => p.transition === r.transition));
    if (after.pendingRecords.length === 0) delete after.pendingRecords;
    await writeCaState(dir, after);
    return pending.length;
  });
}

/**
 * Brings a CA directory back to a consistent state after a crash: removes authority folders that no
 * committed state names (a transition that died before its commit) and rewrites bundle.pem.
 */
export async function repairCaDir(dir: string): Promise<void> {
  const state = await readCaState(dir);
  const known = new Set(state.authorities.map((a) => a.id));
  const root = path.join(dir, 'authorities');
  const names = await fs.readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    // Only what a transition writes: `<id>` and `<id>.partial`; anything else (an operator's backup) stays.
    const m = /^(\d+)(\.partial)?$/.exec(name);
    if (!m) continue;
    const id = Number(m[1]);
    if (m[2] && known.has(id) && !names.includes(String(id))) {
      // Committed, but the rename of its folder did not reach the disk (power loss): finish it.
      await fs.rename(path.join(root, name), path.join(root, String(id)));
      await fsyncDir(root);
    } else if (!known.has(id) || m[2]) {
      await fs.rm(path.join(root, name), { recursive: true, force: true });
    }
  }
  const ca = await loadCa(dir);
  await syncBundleFile(dir, pemOf(ca.bundle));
}

// ---- internals ----

/**
 * Crash injection for the crash-safety tests (SIGKILL at a named point of a transition): active only
 * when CASTELLAN_FAILPOINT names the point. Points: before-commit, after-commit, after-ledger.
 */
function failpoint(name: string): void {
  if (process.env['CASTELLAN_FAILPOINT'] === name) process.kill(process.pid, 'SIGKILL');
}

type Change = { event: string; details: Record<string, string | number | boolean> };

/**
 * One transition: under the lock, repair, read the state, let `change` mutate it (and write new
 * authority folders), commit ca.json with the lifecycle record pending, then move the record to the
 * ledger. A crash at any point leaves either the old or the new state, never a mix.
 */
async function transition(ctx: RotationContext, change: (state: CaStateFile, ca: CaDirectory, now: Date) => Promise<Change>): Promise<RotationResult> {
  const now = ctx.now ?? new Date();
  const record = await withCaLock(ctx.dir, async () => {
    await repairCaDir(ctx.dir);
    const state = await readCaState(ctx.dir);
    const ca = await loadCa(ctx.dir);
    const c = await change(state, ca, now);
    failpoint('before-commit');
    const rec: PendingRecord = { transition: randomUUID(), event: c.event, details: c.details };
    state.pendingRecords = [...(state.pendingRecords ?? []), rec];
    await writeCaState(ctx.dir, state);
    await syncBundleFile(ctx.dir, pemOf((await loadCa(ctx.dir)).bundle));
    failpoint('after-commit');
    return rec;
  });
  let ledgerError: Error | undefined;
  if (ctx.ledger) {
    try {
      await flushPendingRecords(ctx.dir, ctx.ledger);
    } catch (err) {
      ledgerError = err as Error;
    }
  }
  return { ca: await loadCa(ctx.dir), records: [record], ...(ledgerError ? { ledgerError } : {}) };
}

function pemOf(certs: readonly CertificateInfo[]): string {
  return certs.map((c) => c.pem).join('');
}

function nextSequence(state: CaStateFile): number {
  return (state.bundleSequence ?? 1) + 1;
}

async function nextAuthorityId(state: CaStateFile): Promise<number> {
  return Math.max(0, ...state.authorities.map((a: AuthorityRecord) => a.id)) + 1;
}

/** Writes a new authority folder completely under a temporary name, then renames it into place. */
async function writeAuthorityDir(dir: string, id: number, fill: (adir: string) => Promise<void>): Promise<void> {
  const final = authorityDir(dir, id);
  const partial = `${final}.partial`;
  await fs.rm(partial, { recursive: true, force: true });
  await fs.mkdir(partial, { recursive: true, mode: 0o700 });
  await fill(partial);
  await fs.rename(partial, final);
  // The rename must be on disk before ca.json names the folder.
  await fsyncDir(path.dirname(final));
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function writeChainFiles(adir: string, issuer: CertificateInfo, root: CertificateInfo): Promise<void> {
  await writeFileAtomic(path.join(adir, AUTHORITY_FILES.rootCert), root.pem, 0o644);
  await writeFileAtomic(path.join(adir, AUTHORITY_FILES.caCert), issuer.pem, 0o644);
  await writeFileAtomic(path.join(adir, AUTHORITY_FILES.certChain), issuer.pem + root.pem, 0o644);
}

/** The private key of `a`'s root, when this directory holds it (generated roots; rotated intermediates point at their root's slot). */
async function rootKeyOf(dir: string, a: LoadedAuthority) {
  const file = path.join(authorityDir(dir, a.record.rootOf ?? a.id), AUTHORITY_FILES.rootKey);
  try {
    return await readPrivateKeyFile(file);
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function lifetimeMs(c: CertificateInfo): number {
  return c.notAfter.getTime() - c.notBefore.getTime();
}

function describeAgents(agents: readonly AgentReport[]): string {
  const shown = agents.slice(0, 10).map((a) => `${a.agentId}${a.identity ? ` [${a.identity}]` : ''} (serves ${a.sequence}, last seen ${a.lastSeen})`);
  return shown.join(', ') + (agents.length > 10 ? ` and ${agents.length - 10} more` : '');
}


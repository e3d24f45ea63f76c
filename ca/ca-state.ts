import { promises as fs } from 'node:fs';
import path from 'node:path';
import { caError } from './errors.js';
import { writeFileAtomic } from './key-files.js';

/** Where an authority sits in its life (DESIGN §6). */
export type AuthorityState = 'prepared' | 'active' | 'retired';

/** One authority slot as `ca.json` keeps it: a root and the intermediate that signs under it. */
export interface AuthorityRecord {
  id: number;
  state: AuthorityState;
  createdAt: string;
  /** `generated` by Castellan, or plugged in from an Istio-style `cacerts` directory. */
  source: 'generated' | 'cacerts';
  /** Intermediate rotation: the slot whose root this slot's intermediate chains to (same root, new key). */
  rootOf?: number;
  activatedAt?: string;
  retiredAt?: string;
  /**
   * A retired slot's root stays in the trust bundle until `castellan root retire` drops it (its leaves
   * may still be alive); false once dropped. Ignored for prepared and active slots (always in).
   */
  inBundle?: boolean;
  /** The bundle sequence that first carried this slot's root: an agent that serves it trusts the root. */
  bundleSequenceAdded?: number;
}

/** A lifecycle event committed with the state but not yet in the ledger (DESIGN §7: resumable). */
export interface PendingRecord {
  /** Unique per transition, also stored in the ledger record: a replayed record is recognisable. */
  transition: string;
  event: string;
  details: Record<string, string | number | boolean>;
}

export interface CaStateFile {
  format: 1;
  trustDomain: string;
  authorities: AuthorityRecord[];
  /** Grows with every change of what WatchTrustBundle sends (roots, active issuer, re-issue request). Default 1. */
  bundleSequence?: number;
  /** Set by a root activation until the old root is retired: agents re-issue within this many seconds. */
  reissueSpreadSeconds?: number;
  pendingRecords?: PendingRecord[];
}

export const STATE_FILE = 'ca.json';
export const BUNDLE_FILE = 'bundle.pem';

/** Reads and checks `<dir>/ca.json`. */
export async function readCaState(dir: string): Promise<CaStateFile> {
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw caError(
      'ERR_CA_DIR',
      code === 'ENOENT' ? `ca: ${dir} is not a CA directory (no ${STATE_FILE}); create one with 'castellan ca init --dir ${dir}'` : `ca: cannot read ${file}: ${code}`,
      { cause },
    );
  }
  let state: CaStateFile;
  try {
    state = JSON.parse(text) as CaStateFile;
  } catch (cause) {
    throw caError('ERR_CA_DIR', `ca: ${file} is not valid JSON`, { cause });
  }
  if (state.format !== 1 || !Array.isArray(state.authorities) || typeof state.trustDomain !== 'string') {
    throw caError('ERR_CA_DIR', `ca: ${file} is not a Castellan CA state file of format 1`);
  }
  const ids = new Set<number>();
  for (const a of state.authorities) {
    if (!Number.isInteger(a.id) || a.id < 1 || ids.has(a.id) || !['prepared', 'active', 'retired'].includes(a.state)) {
      throw caError('ERR_CA_DIR', `ca: ${file} has an invalid authority entry ${JSON.stringify(a)}`);
    }
    ids.add(a.id);
  }
  if (state.authorities.filter((a) => a.state === 'active').length !== 1) {
    throw caError('ERR_CA_DIR', `ca: ${file} must have exactly one active authority`);
  }
  if (state.authorities.filter((a) => a.state === 'prepared').length > 1) {
    throw caError('ERR_CA_DIR', `ca: ${file} has more than one prepared authority`);
  }
  return state;
}

/**
 * Commits a new state: `ca.json` replaced atomically, the one commit point of every transition.
 * `bundle.pem` is a copy derived from it (for people and scripts): callers refresh it afterwards with
 * `syncBundleFile`, and `repairCaDir` does after a crash.
 */
export async function writeCaState(dir: string, state: CaStateFile): Promise<void> {
  await writeFileAtomic(path.join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n', 0o600);
}

/** Rewrites `<dir>/bundle.pem` when it differs from `bundlePem`. */
export async function syncBundleFile(dir: string, bundlePem: string): Promise<void> {
  const file = path.join(dir, BUNDLE_FILE);
  const current = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (current !== bundlePem) await writeFileAtomic(file, bundlePem, 0o644);
}

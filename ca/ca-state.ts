import { caError } from './errors.js';

/** Where an authority sits in its life (docs/architecture.md §6). */
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

/** A lifecycle event committed with the state but not yet in the ledger (docs/architecture.md §7: resumable). */
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
  /**
   * The ledger this CA writes, remembered so that a ledger moved aside or replaced is detected at the
   * next start (docs/ledger.md): the hash of its first record.
   */
  ledger?: { genesis: string; since: string };
  /** Where the CA keys are made and kept when not in the state itself (docs/pkcs11.md); never a PIN. */
  keys?: { pkcs11?: { module: string; token?: string; slot?: number } };
  /**
   * The last good bundle of each federated trust domain, by name (docs/federation.md): kept with the
   * state so every replica serves it, it survives restarts, and each change grows bundleSequence.
   */
  federation?: Record<string, StoredFederatedBundle>;
}

/** A federated trust domain's bundle as the state keeps it (docs/federation.md). */
export interface StoredFederatedBundle {
  /** The SPIFFE bundle document (SPIFFE Trust Domain and Bundle §4), as Castellan re-serialised it. */
  bundle: string;
  /** The publisher's spiffe_sequence, when it set one (a lower one is refused later). */
  sequence?: number;
  /** When this bundle was stored. */
  updatedAt: string;
  /** `endpoint`: fetched from its bundle endpoint; `initial`: from the configuration's initialBundle. */
  source: 'endpoint' | 'initial';
}

export const STATE_FILE = 'ca.json';
export const BUNDLE_FILE = 'bundle.pem';

/**
 * Parses and checks a CA state (`ca.json`, or the `ca.json` key of the state Secret); `where` names it
 * in errors.
 *
 * @example const state = parseCaState(await fs.readFile('/ca/ca.json', 'utf8'), '/ca/ca.json');
 */
export function parseCaState(text: string, where: string): CaStateFile {
  let state: CaStateFile;
  try {
    state = JSON.parse(text) as CaStateFile;
  } catch (cause) {
    throw caError('ERR_CA_DIR', `ca: ${where} is not valid JSON`, { cause });
  }
  if (state === null || typeof state !== 'object' || state.format !== 1 || !Array.isArray(state.authorities) || typeof state.trustDomain !== 'string') {
    throw caError('ERR_CA_DIR', `ca: ${where} is not a Castellan CA state of format 1`);
  }
  const ids = new Set<number>();
  for (const a of state.authorities) {
    if (a === null || typeof a !== 'object' || !Number.isInteger(a.id) || a.id < 1 || ids.has(a.id) || !['prepared', 'active', 'retired'].includes(a.state)) {
      throw caError('ERR_CA_DIR', `ca: ${where} has an invalid authority entry ${JSON.stringify(a)}`);
    }
    ids.add(a.id);
  }
  if (state.authorities.filter((a) => a.state === 'active').length !== 1) {
    throw caError('ERR_CA_DIR', `ca: ${where} must have exactly one active authority`);
  }
  if (state.authorities.filter((a) => a.state === 'prepared').length > 1) {
    throw caError('ERR_CA_DIR', `ca: ${where} has more than one prepared authority`);
  }
  if (state.bundleSequence !== undefined && !(Number.isInteger(state.bundleSequence) && state.bundleSequence >= 1)) {
    throw caError('ERR_CA_DIR', `ca: ${where} has an invalid bundleSequence`);
  }
  if (state.ledger !== undefined && (typeof state.ledger?.genesis !== 'string' || !/^[0-9a-f]{64}$/.test(state.ledger.genesis))) {
    throw caError('ERR_CA_DIR', `ca: ${where} has an invalid ledger entry`);
  }
  const p = state.keys?.pkcs11;
  if (state.keys !== undefined && (typeof state.keys !== 'object' || (p !== undefined && (typeof p.module !== 'string' || (p.token === undefined && p.slot === undefined))))) {
    throw caError('ERR_CA_DIR', `ca: ${where} has an invalid keys entry (want keys.pkcs11 with module and token or slot)`);
  }
  if (state.federation !== undefined) {
    const f = state.federation as unknown;
    if (
      f === null ||
      typeof f !== 'object' ||
      Array.isArray(f) ||
      Object.values(f).some((b) => b === null || typeof b !== 'object' || typeof (b as StoredFederatedBundle).bundle !== 'string')
    ) {
      throw caError('ERR_CA_DIR', `ca: ${where} has an invalid federation entry`);
    }
  }
  return state;
}

/** The state as stored: stable JSON. */
export function serializeCaState(state: CaStateFile): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** A deep copy a transition may change. */
export function cloneCaState(state: CaStateFile): CaStateFile {
  return JSON.parse(JSON.stringify(state)) as CaStateFile;
}

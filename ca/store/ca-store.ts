import type { CaStateFile } from '../ca-state.js';
import type { KeyMaterial } from '../key-provider.js';
import type { LedgerWitness } from '../ledger/index.js';

/**
 * One authority slot's material as a store keeps it (docs/architecture.md §6, §8): certificates as PEM
 * text, keys as {@link KeyMaterial} (a PEM private key, or a reference into an HSM). Istio's `cacerts`
 * file names where they exist.
 */
export interface StoredAuthority {
  /** root-cert.pem */
  readonly rootCertPem: string;
  /** ca-cert.pem: the certificate that signs workload certificates. */
  readonly caCertPem: string;
  /** cert-chain.pem: ca-cert, any intermediates between it and the root, then the root. */
  readonly certChainPem: string;
  /** cross-cert.pem: the intermediate cross-signed by the root active when this one was prepared. */
  readonly crossCertPem?: string;
  /** The root's key, when this CA holds it (generated roots; absent for plugged-in cacerts and rotated intermediates). */
  readonly rootKey?: KeyMaterial;
  readonly caKey: KeyMaterial;
  /**
   * The slot's JWT-SVID signing key (docs/jwt-svid.md): it is published with the slot's root and rotates
   * with it. Absent in slots created before JWT-SVID support.
   */
  readonly jwtKey?: KeyMaterial;
}

/** The committed state of a store at one moment. */
export interface StoreSnapshot {
  readonly state: CaStateFile;
  /** Opaque: what {@link CaStore.commit} compares against (a Secret's resourceVersion, a hash of ca.json). */
  readonly version: string;
  /** The material of slot `id` as committed with this state. */
  authority(id: number): Promise<StoredAuthority>;
}

/** What a transition commits: the new state and the slots it adds (existing slots never change). */
export interface StoreCommit {
  readonly state: CaStateFile;
  readonly add: ReadonlyMap<number, StoredAuthority>;
  /** The trust bundle after the commit (PEM), kept beside the state for people and scripts. */
  readonly bundlePem: string;
}

/** What one running CA replica publishes about the agents it hears from (docs/architecture.md §6). */
export interface ReplicaReport {
  readonly format: 1;
  readonly replica: string;
  readonly writtenAt: string;
  /** When this replica started serving: a replica that just started knows no agents yet. */
  readonly servingSince?: string;
  /** How long after servingSince an empty report says nothing (rotation.agentWarmup). */
  readonly warmupMs?: number;
  /** The replica's rotation.agentLiveness: readers judge its agents by it. */
  readonly livenessMs?: number;
  /** The replica's rotation.intermediateRotateAt (for `castellan check`). */
  readonly intermediateRotateAt?: number;
  readonly agents: readonly { agentId: string; identity: string; sequence: number; lastSeen: string; connected: boolean; peer: string }[];
  /** The leader's view of its federated trust domains' bundle endpoints (docs/federation.md), for `castellan check`. */
  readonly federation?: readonly FederationReport[];
}

/** How refreshing one federated trust domain's bundle goes, as the leader publishes it (docs/federation.md). */
export interface FederationReport {
  readonly trustDomain: string;
  readonly endpoint: string;
  /** When a fetch last succeeded (the bundle was good, changed or not). */
  readonly lastSuccess?: string;
  /** The last failure while failures continue: its reason (a FetchFailure), message and time. */
  readonly lastError?: { readonly reason: string; readonly message: string; readonly at: string };
  /** Failures in a row (0 after a success). */
  readonly failures: number;
  /** The refresh interval in force, ms. */
  readonly intervalMs: number;
}

export interface AgentReportStore {
  /** Replaces this replica's report. */
  publish(report: ReplicaReport): Promise<void>;
  /** This replica's previous report (agents stay known across a restart), if any. */
  own(replica: string): Promise<ReplicaReport | undefined>;
  /** Every replica's report; unreadable ones are skipped. */
  all(): Promise<ReplicaReport[]>;
  /** Removes reports last written before `before` (a replica that is gone); returns how many. */
  prune(before: Date): Promise<number>;
}

/**
 * Where a CA's keys and state live (docs/architecture.md §6): a directory on one host, or Kubernetes
 * objects shared by replicas. Every transition reads a snapshot, computes the next state and commits it
 * all-or-nothing; a commit based on a snapshot that is no longer current fails with ERR_STORE_CONFLICT
 * and the transition runs again on the new state, so two replicas never fork the hierarchy.
 */
export interface CaStore {
  readonly kind: 'directory' | 'kubernetes';
  /** For messages: `directory /var/lib/castellan`, `kubernetes secret castellan-system/castellan-ca`. */
  readonly location: string;
  /** The CA directory of a directory store (the SQLite ledger and the dev token issuer live there). */
  readonly dir?: string;
  /** The committed state, or undefined when the store holds no CA yet. */
  read(): Promise<StoreSnapshot | undefined>;
  /** Commits atomically against `base` (undefined: create); ERR_STORE_CONFLICT when the store moved meanwhile. */
  commit(base: StoreSnapshot | undefined, next: StoreCommit): Promise<void>;
  /** Runs `fn` so that no other transition of this store (in any process) interleaves where the store needs that. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Cleans up what a transition that crashed before its commit left behind. */
  repair(): Promise<void>;
  /**
   * Calls `onChange` (never concurrently, at most once per change) whenever the committed state may have
   * changed, until the returned function is called. Failures of the watch itself go to `onError`; the
   * store keeps trying.
   */
  watch(onChange: () => void, onError: (err: Error) => void): () => void;
  /** Ends in-flight requests and watches (Kubernetes); a no-op for a directory. */
  close(): Promise<void>;
  readonly witness: LedgerWitness;
  readonly agentReports: AgentReportStore;
}

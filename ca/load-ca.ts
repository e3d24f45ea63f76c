import { X509Certificate as NodeCertificate } from 'node:crypto';
import { jwkThumbprint, spiffeIdOf, TrustDomain } from '../workload-identity/index.js';
import { bundleOf } from './bundle-roots.js';
import type { AuthorityRecord, AuthorityState, PendingRecord } from './ca-state.js';
import { certificatesFromPem, type CertificateInfo } from './certificate-info.js';
import { caError } from './errors.js';
import type { SigningAuthority } from './issuer.js';
import type { KeyProvider } from './key-provider.js';
import type { Signer } from './signer.js';
import { keyProviderFor } from './state-keys.js';
import { directoryStore, type CaStore, type StoreSnapshot } from './store/index.js';

/** One root with the intermediate that signs under it. */
export interface LoadedAuthority extends SigningAuthority {
  readonly id: number;
  readonly state: AuthorityState;
  readonly source: 'generated' | 'cacerts';
  readonly root: CertificateInfo;
  /** The state's entry (times, bundle membership). */
  readonly record: Readonly<AuthorityRecord>;
  /** The intermediate cross-signed by the root that was active when this one was prepared, if any. */
  readonly crossSigned?: CertificateInfo;
  /** Whether this slot holds its root's key (generated roots): a new intermediate can be signed under it. */
  readonly hasRootKey: boolean;
  /** The slot's JWT-SVID signing key and its `kid` (RFC 7638 thumbprint); absent in slots made before JWT-SVIDs. */
  readonly jwtKey?: { readonly keyId: string; readonly signer: Signer };
}

/** A CA as loaded from its store (a directory or Kubernetes). */
export interface CaDirectory {
  readonly store: CaStore;
  /** The snapshot this was loaded from (what a transition commits against). */
  readonly snapshot: StoreSnapshot;
  readonly keys: KeyProvider;
  readonly trustDomain: TrustDomain;
  readonly authorities: readonly LoadedAuthority[];
  /** The authority that signs new leaves. */
  readonly active: LoadedAuthority;
  /** The prepared authority of a root rotation in progress. */
  readonly prepared?: LoadedAuthority;
  /** Roots every peer must trust now (docs/architecture.md §6): prepared, active, and retired until dropped; no duplicates. */
  readonly bundle: readonly CertificateInfo[];
  /** Grows with every change of the bundle, the active issuer or the re-issue request. */
  readonly bundleSequence: number;
  /** Non-zero between a root activation and the old root's retirement: agents re-issue within this window. */
  readonly reissueSpreadSeconds: number;
  /** Lifecycle records committed with the state, not yet in the ledger. */
  readonly pendingRecords: readonly PendingRecord[];
  /** The hash of the ledger's first record, once the CA has written one. */
  readonly ledgerGenesis?: string;
}

/** A store, or the path of a CA directory (the directory store). */
export type CaStoreRef = CaStore | string;

/** The store a reference names. */
export function storeOf(ref: CaStoreRef): CaStore {
  return typeof ref === 'string' ? directoryStore(ref) : ref;
}

/**
 * Loads a CA from its store: every authority's certificates and keys, checked (a tampered store must
 * not slip in another hierarchy or another trust domain).
 *
 * @example const ca = await loadCa('/var/lib/castellan');
 */
export async function loadCa(ref: CaStoreRef, keys?: KeyProvider): Promise<CaDirectory> {
  const store = storeOf(ref);
  const snap = await store.read();
  if (!snap) {
    throw caError(
      'ERR_CA_DIR',
      store.dir !== undefined
        ? `ca: ${store.dir} is not a CA directory (no ca.json); create one with 'castellan ca init --dir ${store.dir}'`
        : `ca: ${store.location} holds no CA yet`,
    );
  }
  return loadSnapshot(store, snap, keys);
}

/** Loads the CA a snapshot describes; its keys through `keys`, else the provider the state names (software or PKCS#11). */
export async function loadSnapshot(store: CaStore, snap: StoreSnapshot, given?: KeyProvider): Promise<CaDirectory> {
  const state = snap.state;
  const keys = given ?? (await keyProviderFor(state.keys));
  let trustDomain: TrustDomain;
  try {
    trustDomain = TrustDomain.of(state.trustDomain);
  } catch (cause) {
    throw caError('ERR_CA_DIR', `ca: ${store.location} has an invalid trustDomain: ${(cause as Error).message}`, { cause });
  }
  const authorities: LoadedAuthority[] = [];
  for (const rec of state.authorities) authorities.push(await loadAuthority(store, snap, trustDomain, rec, keys));
  const active = authorities.find((a) => a.state === 'active')!;
  const prepared = authorities.find((a) => a.state === 'prepared');
  return {
    store,
    snapshot: snap,
    keys,
    trustDomain,
    authorities,
    active,
    ...(prepared ? { prepared } : {}),
    bundle: bundleOf(authorities),
    bundleSequence: state.bundleSequence ?? 1,
    reissueSpreadSeconds: state.reissueSpreadSeconds ?? 0,
    pendingRecords: state.pendingRecords ?? [],
    ...(state.ledger ? { ledgerGenesis: state.ledger.genesis } : {}),
  };
}

/** The trust bundle as PEM, oldest slot first. */
export function bundlePem(ca: Pick<CaDirectory, 'bundle'>): string {
  return ca.bundle.map((c) => c.pem).join('');
}

/**
 * The signer of the root that `a` chains to, when the store holds its key (generated roots; a rotated
 * intermediate's root key is in the slot it names as `rootOf`).
 */
export async function rootSignerOf(ca: CaDirectory, a: LoadedAuthority): Promise<Signer | undefined> {
  const slot = a.record.rootOf ?? a.id;
  const stored = await ca.snapshot.authority(slot);
  return stored.rootKey ? ca.keys.open(stored.rootKey) : undefined;
}

async function loadAuthority(store: CaStore, snap: StoreSnapshot, trustDomain: TrustDomain, rec: AuthorityRecord, keys: KeyProvider): Promise<LoadedAuthority> {
  const where = `${store.location}, authority ${rec.id}`;
  const stored = await snap.authority(rec.id);
  const what = (f: string) => ({ code: 'ERR_CA_DIR' as const, what: `ca: ${where}, ${f}` });
  const [root] = certificatesFromPem(stored.rootCertPem, what('root-cert.pem'));
  const chain = certificatesFromPem(stored.certChainPem, what('cert-chain.pem'));
  const issuer = chain[0];
  if (!root || !issuer) throw caError('ERR_CA_DIR', `ca: ${where} is missing its root or intermediate certificate`);
  const signer = await keys.open(stored.caKey).catch((cause: unknown) => {
    throw caError('ERR_CA_DIR', `ca: ${where}: the intermediate's key cannot be used: ${(cause as Error).message}`, { cause });
  });
  if (!signer.spki.equals(issuer.spki)) throw caError('ERR_CA_DIR', `ca: ${where}: ca-key does not match its certificate`);
  // A tampered store must not slip in another hierarchy: the chain must still lead to root-cert.pem.
  const links = [...chain.slice(0, -1), root];
  for (let i = 0; i + 1 < links.length; i++) {
    const child = new NodeCertificate(links[i]!.der);
    const parent = new NodeCertificate(links[i + 1]!.der);
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw caError('ERR_CA_DIR', `ca: ${where}: cert-chain.pem does not chain to root-cert.pem; the CA state was altered`);
    }
  }
  // Nor another trust domain: the state's trust domain must be the one the certificates name.
  for (const [label, cert] of [
    ['root-cert.pem', root],
    ['ca-cert.pem', issuer],
  ] as const) {
    const td = spiffeTrustDomainOf(cert);
    if (td !== undefined && td !== trustDomain.name) {
      throw caError('ERR_CA_DIR', `ca: ${where}: ${label} is for trust domain ${td}, but the CA state says ${trustDomain.name}; the CA state was altered`, {
        context: { certificate: td, state: trustDomain.name },
      });
    }
  }
  const crossSigned = stored.crossCertPem === undefined ? undefined : certificatesFromPem(stored.crossCertPem, what('cross-cert.pem'))[0];
  const jwtSigner =
    stored.jwtKey === undefined
      ? undefined
      : await keys.open(stored.jwtKey).catch((cause: unknown) => {
          throw caError('ERR_CA_DIR', `ca: ${where}: the JWT-SVID key cannot be used: ${(cause as Error).message}`, { cause });
        });
  return {
    id: rec.id,
    state: rec.state,
    source: rec.source,
    record: Object.freeze({ ...rec }),
    trustDomain,
    root,
    issuer,
    signer,
    parents: chain.slice(1),
    hasRootKey: stored.rootKey !== undefined,
    ...(crossSigned ? { crossSigned } : {}),
    ...(jwtSigner ? { jwtKey: { keyId: jwkThumbprint(jwtSigner.publicKey), signer: jwtSigner } } : {}),
  };
}

/** The trust domain of a certificate's `spiffe://` URI SAN, if it has one. */
export function spiffeTrustDomainOf(c: CertificateInfo): string | undefined {
  return spiffeIdOf(new NodeCertificate(c.der))?.trustDomain.name;
}

/** What a CA's store says publicly: no key is opened (audits and status need no PIN, no key access). */
export interface CaCertificates {
  readonly store: CaStore;
  readonly trustDomain: string;
  /** Every slot's root and signing certificate, retired ones too (they signed older ledger checkpoints). */
  readonly authorities: readonly { id: number; state: AuthorityState; root: CertificateInfo; issuer: CertificateInfo }[];
  readonly bundle: readonly CertificateInfo[];
  readonly ledgerGenesis?: string;
}

/**
 * Reads the certificates of a CA from its store without opening any key.
 *
 * @example const { authorities } = await loadCaCertificates(directoryStore('/ca'));
 */
export async function loadCaCertificates(ref: CaStoreRef): Promise<CaCertificates> {
  const store = storeOf(ref);
  const snap = await store.read();
  if (!snap) throw caError('ERR_CA_DIR', `ca: ${store.location} holds no CA`);
  const authorities = [];
  for (const rec of snap.state.authorities) {
    const stored = await snap.authority(rec.id);
    const what = (f: string) => ({ code: 'ERR_CA_DIR' as const, what: `ca: ${store.location}, authority ${rec.id}, ${f}` });
    const root = certificatesFromPem(stored.rootCertPem, what('root-cert.pem'))[0];
    const issuer = certificatesFromPem(stored.caCertPem, what('ca-cert.pem'))[0];
    if (!root || !issuer) throw caError('ERR_CA_DIR', `ca: ${store.location}, authority ${rec.id} is missing its certificates`);
    authorities.push({ id: rec.id, state: rec.state, record: rec, root, issuer });
  }
  return {
    store,
    trustDomain: snap.state.trustDomain,
    authorities,
    bundle: bundleOf(authorities),
    ...(snap.state.ledger ? { ledgerGenesis: snap.state.ledger.genesis } : {}),
  };
}

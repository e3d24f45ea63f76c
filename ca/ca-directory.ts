import { X509Certificate as NodeCertificate, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SpiffeId, TrustDomain, validateX509SvidSigningCert } from '../workload-identity/index.js';
import { createIntermediateCertificate, createRootCertificate } from './authority-profile.js';
import { certificateInfo, certificatesFromPem, type CertificateInfo } from './certificate-info.js';
import { createDevTokenIssuer } from './dev-token-issuer.js';
import { caError } from './errors.js';
import type { SigningAuthority } from './issuer.js';
import { readPrivateKeyFile, writeFileAtomic, writePrivateKeyFile } from './key-files.js';
import { readCaState, STATE_FILE, syncBundleFile, writeCaState, type AuthorityRecord, type AuthorityState, type PendingRecord } from './ca-state.js';
import { generateKey, type KeyType } from './key-type.js';
import { keyObjectSigner, type Signer } from './signer.js';

/** One root with the intermediate that signs under it. */
export interface LoadedAuthority extends SigningAuthority {
  readonly id: number;
  readonly state: AuthorityState;
  readonly source: 'generated' | 'cacerts';
  readonly root: CertificateInfo;
  /** The state file's entry (times, bundle membership). */
  readonly record: Readonly<AuthorityRecord>;
  /** The intermediate cross-signed by the root that was active when this one was prepared, if any. */
  readonly crossSigned?: CertificateInfo;
  /** Whether `root-key.pem` exists (generated roots): a new intermediate can be signed under this root. */
  readonly hasRootKey: boolean;
}

/** A CA directory read from disk. */
export interface CaDirectory {
  readonly dir: string;
  readonly trustDomain: TrustDomain;
  readonly authorities: readonly LoadedAuthority[];
  /** The authority that signs new leaves. */
  readonly active: LoadedAuthority;
  /** The prepared authority of a root rotation in progress. */
  readonly prepared?: LoadedAuthority;
  /** Roots every peer must trust now (DESIGN §6): prepared, active, and retired until dropped; no duplicates. */
  readonly bundle: readonly CertificateInfo[];
  /** Grows with every change of the bundle, the active issuer or the re-issue request. */
  readonly bundleSequence: number;
  /** Non-zero between a root activation and the old root's retirement: agents re-issue within this window. */
  readonly reissueSpreadSeconds: number;
  /** Lifecycle records committed with the state, not yet in the ledger. */
  readonly pendingRecords: readonly PendingRecord[];
}

/** File names inside `authorities/<id>/`, Istio's `cacerts` names where they exist. */
export const AUTHORITY_FILES = {
  rootCert: 'root-cert.pem',
  rootKey: 'root-key.pem',
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  certChain: 'cert-chain.pem',
  /** Castellan's own: the intermediate cross-signed by the previous root (root rotation). */
  crossCert: 'cross-cert.pem',
} as const;

const YEAR_MS = 365 * 86_400_000;

export interface InitOptions {
  readonly dir: string;
  readonly trustDomain: TrustDomain;
  /** Default `ec-p256`. */
  readonly keyType?: KeyType;
  /** Root lifetime in ms, default 10 y. */
  readonly rootTtlMs?: number;
  /** Intermediate lifetime in ms, default 1 y (capped by the root's). */
  readonly intermediateTtlMs?: number;
  readonly now?: Date;
}

/**
 * Creates a CA directory with a new self-signed root and an intermediate signed by it.
 *
 * @example await initCa({ dir: '.castellan', trustDomain: TrustDomain.of('cluster.local') });
 */
export async function initCa(o: InitOptions): Promise<CaDirectory> {
  await prepareEmptyCaDir(o.dir);
  const now = o.now ?? new Date();
  const keyType = o.keyType ?? 'ec-p256';
  const rootKey = generateKey(keyType).privateKey;
  const rootSigner = keyObjectSigner(rootKey);
  const root = certificateInfo(
    createRootCertificate({ trustDomain: o.trustDomain, generation: 1, signer: rootSigner, now, ttlMs: o.rootTtlMs ?? 10 * YEAR_MS }),
  );
  const caKey = generateKey(keyType).privateKey;
  const caSigner = keyObjectSigner(caKey);
  const ca = certificateInfo(
    createIntermediateCertificate({
      trustDomain: o.trustDomain,
      generation: 1,
      spki: caSigner.spki,
      issuer: { subject: root.subject, ski: root.ski, notAfter: root.notAfter, signer: rootSigner },
      now,
      ttlMs: o.intermediateTtlMs ?? YEAR_MS,
    }),
  );
  const adir = authorityDir(o.dir, 1);
  await fs.mkdir(adir, { recursive: true, mode: 0o700 });
  await writePrivateKeyFile(path.join(adir, AUTHORITY_FILES.rootKey), rootKey);
  await writePrivateKeyFile(path.join(adir, AUTHORITY_FILES.caKey), caKey);
  await writeCertificates(adir, ca, [], root);
  await createDevTokenIssuer(o.dir);
  await writeState(o.dir, o.trustDomain, { id: 1, state: 'active', createdAt: now.toISOString(), source: 'generated' }, [root]);
  return loadCa(o.dir);
}

export interface ImportCacertsOptions {
  readonly dir: string;
  /** A directory with `ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`, `root-cert.pem` (Istio's plug-in CA layout). */
  readonly from: string;
  /** Required when ca-cert.pem has no SPIFFE trust-domain SAN; must match it when it has one. */
  readonly trustDomain?: TrustDomain;
  readonly now?: Date;
}

/**
 * Plugs in an existing hierarchy laid out as Istio's `cacerts`, after checking that the key matches
 * the certificate, that ca-cert.pem may sign X509-SVIDs, and that the chain verifies up to root-cert.pem.
 *
 * @example await importCacerts({ dir: '.castellan', from: '/etc/cacerts' });
 */
export async function importCacerts(o: ImportCacertsOptions): Promise<CaDirectory> {
  const fail = (msg: string, cause?: unknown): never => {
    throw caError('ERR_CACERTS', `cacerts: ${msg}`, cause === undefined ? {} : { cause });
  };
  const read = async (name: string) => {
    try {
      return await fs.readFile(path.join(o.from, name), 'utf8');
    } catch (cause) {
      return fail(`cannot read ${path.join(o.from, name)}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, cause);
    }
  };
  const onError = (file: string) => ({ code: 'ERR_CACERTS' as const, what: `cacerts: ${file}` });
  const one = (file: string, text: string) => {
    const certs = certificatesFromPem(text, onError(file));
    if (certs.length !== 1) fail(`${file} must hold exactly one certificate, found ${certs.length}`);
    return certs[0]!;
  };
  const ca = one(AUTHORITY_FILES.caCert, await read(AUTHORITY_FILES.caCert));
  const root = one(AUTHORITY_FILES.rootCert, await read(AUTHORITY_FILES.rootCert));
  const chainText = await read(AUTHORITY_FILES.certChain);
  let chain = certificatesFromPem(chainText, onError(AUTHORITY_FILES.certChain));
  let caKey: KeyObject;
  try {
    caKey = await readPrivateKeyFile(path.join(o.from, AUTHORITY_FILES.caKey), { checkMode: false });
  } catch (cause) {
    return fail(`${AUTHORITY_FILES.caKey}: ${(cause as Error).message}`, cause);
  }
  let signer: Signer;
  try {
    signer = keyObjectSigner(caKey);
  } catch (cause) {
    return fail(`${AUTHORITY_FILES.caKey}: ${(cause as Error).message}`, cause);
  }
  if (!signer.spki.equals(ca.spki)) fail(`${AUTHORITY_FILES.caKey} does not match ${AUTHORITY_FILES.caCert} (different public keys)`);

  // Istio's cert-chain.pem is ca-cert, then any intermediates, then usually the root: keep what lies between.
  if (chain[0]?.der.equals(ca.der)) chain = chain.slice(1);
  if (chain.length > 0 && chain[chain.length - 1]!.der.equals(root.der)) chain = chain.slice(0, -1);
  const parents = [...chain, root];

  const trustDomain = trustDomainOf(ca, o.trustDomain, fail);
  try {
    validateX509SvidSigningCert(ca.cert, trustDomain);
  } catch (cause) {
    fail(`${AUTHORITY_FILES.caCert} cannot sign X509-SVIDs: ${(cause as Error).message}`, cause);
  }
  const now = o.now ?? new Date();
  verifyChain([ca, ...parents], now, fail);

  await prepareEmptyCaDir(o.dir);
  const adir = authorityDir(o.dir, 1);
  await fs.mkdir(adir, { recursive: true, mode: 0o700 });
  await writePrivateKeyFile(path.join(adir, AUTHORITY_FILES.caKey), caKey);
  await writeCertificates(adir, ca, chain, root);
  await createDevTokenIssuer(o.dir);
  await writeState(o.dir, trustDomain, { id: 1, state: 'active', createdAt: now.toISOString(), source: 'cacerts' }, [root]);
  return loadCa(o.dir);
}

function trustDomainOf(ca: CertificateInfo, given: TrustDomain | undefined, fail: (m: string) => never): TrustDomain {
  const uris = ca.cert.getExtension('2.5.29.17') ? sanUris(ca) : [];
  const fromCert = uris.find((u) => u.startsWith('spiffe://'));
  if (!fromCert) {
    if (!given) fail(`${AUTHORITY_FILES.caCert} has no spiffe:// SAN; pass --trust-domain`);
    return given!;
  }
  let td: TrustDomain;
  try {
    td = SpiffeId.parse(fromCert).trustDomain;
  } catch (cause) {
    return fail(`${AUTHORITY_FILES.caCert} SAN ${fromCert} is not a SPIFFE ID: ${(cause as Error).message}`);
  }
  if (given && !given.equals(td)) fail(`${AUTHORITY_FILES.caCert} is for trust domain ${td.name}, not ${given.name}`);
  return td;
}

function sanUris(c: CertificateInfo): string[] {
  const node = new NodeCertificate(c.der);
  return (node.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** Each certificate must be signed by the next, be valid now, and the last must be self-signed. */
function verifyChain(certs: CertificateInfo[], now: Date, fail: (m: string) => never): void {
  const nodes = certs.map((c) => new NodeCertificate(c.der));
  const label = (i: number) => (i === 0 ? AUTHORITY_FILES.caCert : i === certs.length - 1 ? AUTHORITY_FILES.rootCert : `${AUTHORITY_FILES.certChain} #${i}`);
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i]!;
    if (now < c.notBefore || now >= c.notAfter) fail(`${label(i)} is not valid now (${c.notBefore.toISOString()} .. ${c.notAfter.toISOString()})`);
    const issuer = nodes[Math.min(i + 1, nodes.length - 1)]!;
    if (!nodes[i]!.checkIssued(issuer) || !nodes[i]!.verify(issuer.publicKey)) {
      fail(i === certs.length - 1 ? `${label(i)} is not self-signed` : `${label(i)} is not signed by ${label(i + 1)}; the chain does not verify`);
    }
    if (i > 0 && !nodes[i]!.ca) fail(`${label(i)} is not a CA certificate`);
  }
}

/** Reads a CA directory written by `initCa` or `importCacerts` (and changed by root rotation). */
export async function loadCa(dir: string): Promise<CaDirectory> {
  const state = await readCaState(dir);
  let trustDomain: TrustDomain;
  try {
    trustDomain = TrustDomain.of(state.trustDomain);
  } catch (cause) {
    throw caError('ERR_CA_DIR', `ca: ${path.join(dir, STATE_FILE)} has an invalid trustDomain: ${(cause as Error).message}`, { cause });
  }
  const authorities: LoadedAuthority[] = [];
  for (const rec of state.authorities) authorities.push(await loadAuthority(dir, trustDomain, rec));
  const active = authorities.find((a) => a.state === 'active')!;
  const prepared = authorities.find((a) => a.state === 'prepared');
  return {
    dir,
    trustDomain,
    authorities,
    active,
    ...(prepared ? { prepared } : {}),
    bundle: bundleOf(authorities),
    bundleSequence: state.bundleSequence ?? 1,
    reissueSpreadSeconds: state.reissueSpreadSeconds ?? 0,
    pendingRecords: state.pendingRecords ?? [],
  };
}

/** The roots of prepared, active and not yet dropped retired slots, oldest slot first, each once. */
function bundleOf(authorities: readonly LoadedAuthority[]): CertificateInfo[] {
  const out: CertificateInfo[] = [];
  for (const a of authorities) {
    const member = a.state !== 'retired' || a.record.inBundle !== false;
    if (member && !out.some((r) => r.der.equals(a.root.der))) out.push(a.root);
  }
  return out;
}

async function loadAuthority(dir: string, trustDomain: TrustDomain, rec: AuthorityRecord): Promise<LoadedAuthority> {
  const adir = authorityDir(dir, rec.id);
  const what = (f: string) => ({ code: 'ERR_CA_DIR' as const, what: `ca: ${path.join(adir, f)}` });
  const readText = async (f: string, optional = false) => {
    try {
      return await fs.readFile(path.join(adir, f), 'utf8');
    } catch (cause) {
      if (optional && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw caError('ERR_CA_DIR', `ca: cannot read ${path.join(adir, f)}; the CA directory is incomplete`, { cause });
    }
  };
  const [root] = certificatesFromPem((await readText(AUTHORITY_FILES.rootCert))!, what(AUTHORITY_FILES.rootCert));
  const chain = certificatesFromPem((await readText(AUTHORITY_FILES.certChain))!, what(AUTHORITY_FILES.certChain));
  const issuer = chain[0];
  if (!root || !issuer) throw caError('ERR_CA_DIR', `ca: ${adir} is missing its root or intermediate certificate`);
  const signer = keyObjectSigner(await readPrivateKeyFile(path.join(adir, AUTHORITY_FILES.caKey)));
  if (!signer.spki.equals(issuer.spki)) throw caError('ERR_CA_DIR', `ca: ${path.join(adir, AUTHORITY_FILES.caKey)} does not match its certificate`);
  // A tampered directory must not slip in another hierarchy: the chain must still lead to root-cert.pem.
  const links = [...chain.slice(0, -1), root];
  for (let i = 0; i + 1 < links.length; i++) {
    const child = new NodeCertificate(links[i]!.der);
    const parent = new NodeCertificate(links[i + 1]!.der);
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw caError('ERR_CA_DIR', `ca: ${path.join(adir, AUTHORITY_FILES.certChain)} does not chain to ${AUTHORITY_FILES.rootCert}; the CA directory was altered`);
    }
  }
  const crossText = await readText(AUTHORITY_FILES.crossCert, true);
  const crossSigned = crossText === undefined ? undefined : certificatesFromPem(crossText, what(AUTHORITY_FILES.crossCert))[0];
  const hasRootKey = await fs.access(path.join(adir, AUTHORITY_FILES.rootKey)).then(
    () => true,
    () => false,
  );
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
    hasRootKey,
    ...(crossSigned ? { crossSigned } : {}),
  };
}

/** Path of an authority's folder. */
export function authorityDir(dir: string, id: number): string {
  return path.join(dir, 'authorities', String(id));
}

async function prepareEmptyCaDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory as it was: make sure nobody else owns it or can enter it.
  const st = await fs.lstat(dir);
  if (!st.isDirectory()) throw caError('ERR_CA_DIR', `ca: ${dir} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw caError('ERR_CA_DIR', `ca: ${dir} belongs to another user (uid ${st.uid}); a CA directory must be ours alone`);
  }
  if ((st.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
  try {
    await fs.access(path.join(dir, STATE_FILE));
  } catch {
    return;
  }
  throw caError('ERR_CA_EXISTS', `ca: ${dir} already holds a CA (${STATE_FILE}); choose another --dir or remove it deliberately`);
}

async function writeCertificates(adir: string, ca: CertificateInfo, between: CertificateInfo[], root: CertificateInfo): Promise<void> {
  await writeFileAtomic(path.join(adir, AUTHORITY_FILES.rootCert), root.pem, 0o644);
  await writeFileAtomic(path.join(adir, AUTHORITY_FILES.caCert), ca.pem, 0o644);
  await writeFileAtomic(path.join(adir, AUTHORITY_FILES.certChain), [ca, ...between, root].map((c) => c.pem).join(''), 0o644);
}

async function writeState(dir: string, trustDomain: TrustDomain, rec: AuthorityRecord, bundle: CertificateInfo[]): Promise<void> {
  // The state file is the commit point: a crash before it leaves no CA, and init can simply run again.
  await writeCaState(dir, { format: 1, trustDomain: trustDomain.name, authorities: [{ ...rec, activatedAt: rec.createdAt, bundleSequenceAdded: 1 }], bundleSequence: 1 });
  await syncBundleFile(dir, bundle.map((c) => c.pem).join(''));
}

import { X509Certificate as NodeCertificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TrustDomain, validateX509SvidSigningCert } from '../workload-identity/index.js';
import { mintJwtKey, mintRootAuthority } from './authority-mint.js';
import type { AuthorityRecord, CaStateFile } from './ca-state.js';
import { certificatesFromPem, type CertificateInfo } from './certificate-info.js';
import { createDevTokenIssuer } from './dev-token-issuer.js';
import { caError } from './errors.js';
import { parsePrivateKeyPem } from './key-files.js';
import type { KeyProvider } from './key-provider.js';
import { keyTypeOf, type KeyType } from './key-type.js';
import { bundleOf } from './bundle-roots.js';
import { loadCa, spiffeTrustDomainOf, storeOf, type CaDirectory } from './load-ca.js';
import { keyObjectSigner } from './signer.js';
import { softwareKeyProvider } from './software-key-provider.js';
import type { StateKeys } from './state-keys.js';
import { checkCaDirectory, type CaStore, type StoredAuthority } from './store/index.js';

export interface InitOptions {
  /** A CA directory (created 0700; it must be empty or absent). */
  readonly dir?: string;
  /** Or any store (Kubernetes): the CA is created there. */
  readonly store?: CaStore;
  readonly trustDomain: TrustDomain;
  /** Default `ec-p256`. */
  readonly keyType?: KeyType;
  /** Root lifetime in ms, default 10 y. */
  readonly rootTtlMs?: number;
  /** Intermediate lifetime in ms, default 1 y (capped by the root's). */
  readonly intermediateTtlMs?: number;
  /** Where the keys are made. Default: in this process. */
  readonly keys?: KeyProvider;
  /** With a PKCS#11 provider: what the state records so every later command opens the same token (never the PIN). */
  readonly stateKeys?: StateKeys;
  readonly now?: Date;
}

/**
 * Creates a CA with a new self-signed root and an intermediate signed by it, in a new directory or an
 * empty store.
 *
 * @example await initCa({ dir: '.castellan', trustDomain: TrustDomain.of('cluster.local') });
 */
export async function initCa(o: InitOptions): Promise<CaDirectory> {
  const store = o.store ?? storeOf(requireDir(o.dir));
  if (store.dir !== undefined) await prepareEmptyCaDir(store.dir);
  const keys = o.keys ?? softwareKeyProvider;
  const now = o.now ?? new Date();
  const minted = await mintRootAuthority({
    trustDomain: o.trustDomain,
    generation: 1,
    keys,
    keyType: o.keyType ?? 'ec-p256',
    now,
    ...(o.rootTtlMs !== undefined ? { rootTtlMs: o.rootTtlMs } : {}),
    ...(o.intermediateTtlMs !== undefined ? { intermediateTtlMs: o.intermediateTtlMs } : {}),
  });
  return createWith(store, o.trustDomain, { id: 1, state: 'active', createdAt: now.toISOString(), source: 'generated' }, minted.stored, [minted.root], keys, o.stateKeys);
}

/** An Istio-style `cacerts` hierarchy: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem. */
export interface CacertsMaterial {
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly certChainPem: string;
  readonly rootCertPem: string;
  /** Where it came from, for messages (`/etc/cacerts`, `secret istio-system/cacerts`). */
  readonly source: string;
}

export interface ImportCacertsOptions {
  /** A CA directory to create, or `store`. */
  readonly dir?: string;
  readonly store?: CaStore;
  /** A directory with `ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`, `root-cert.pem` (Istio's plug-in CA layout), or `material`. */
  readonly from?: string;
  readonly material?: CacertsMaterial;
  /** Required when ca-cert.pem has no SPIFFE trust-domain SAN; must match it when it has one. */
  readonly trustDomain?: TrustDomain;
  readonly now?: Date;
}

/**
 * Plugs in an existing hierarchy laid out as Istio's `cacerts`, after checking it (see checkCacerts).
 *
 * @example await importCacerts({ dir: '.castellan', from: '/etc/cacerts' });
 */
export async function importCacerts(o: ImportCacertsOptions): Promise<CaDirectory> {
  const material = o.material ?? (await readCacertsDir(requireFrom(o.from)));
  const now = o.now ?? new Date();
  const checked = checkCacerts(material, o.trustDomain, now);
  const store = o.store ?? storeOf(requireDir(o.dir));
  if (store.dir !== undefined) await prepareEmptyCaDir(store.dir);
  // The plugged-in hierarchy brings no JWT-SVID key: Castellan makes one of the same type (docs/jwt-svid.md).
  const jwtKey = await mintJwtKey(softwareKeyProvider, keyTypeOf(parsePrivateKeyPem(material.caKeyPem, 'ca-key.pem')), 1);
  return createWith(
    store,
    checked.trustDomain,
    { id: 1, state: 'active', createdAt: now.toISOString(), source: 'cacerts' },
    { ...checked.stored, jwtKey },
    [checked.root],
    softwareKeyProvider,
  );
}

/**
 * Checks a `cacerts` hierarchy: the key matches ca-cert.pem, ca-cert.pem may sign X509-SVIDs (CA:true,
 * keyCertSign, no SPIFFE path), every link of the chain verifies up to the self-signed root-cert.pem
 * and is valid now. The trust domain comes from ca-cert.pem's `spiffe://` SAN, else from `given`.
 */
export function checkCacerts(m: CacertsMaterial, given: TrustDomain | undefined, now: Date): { stored: StoredAuthority; trustDomain: TrustDomain; root: CertificateInfo } {
  // A directory's files were named when read; a Secret is named in every message.
  const from = m.source.startsWith('secret ') ? ` (${m.source})` : '';
  const fail = (msg: string, cause?: unknown): never => {
    throw caError('ERR_CACERTS', `cacerts: ${msg}${from}`, cause === undefined ? {} : { cause });
  };
  const onError = (file: string) => ({ code: 'ERR_CACERTS' as const, what: `cacerts: ${file}${from}` });
  const one = (file: string, text: string) => {
    const certs = certificatesFromPem(text, onError(file));
    if (certs.length !== 1) fail(`${file} must hold exactly one certificate, found ${certs.length}`);
    return certs[0]!;
  };
  const ca = one('ca-cert.pem', m.caCertPem);
  const root = one('root-cert.pem', m.rootCertPem);
  let chain = certificatesFromPem(m.certChainPem, onError('cert-chain.pem'));
  let spki: Buffer;
  try {
    spki = keyObjectSigner(parsePrivateKeyPem(m.caKeyPem, 'ca-key.pem')).spki;
  } catch (cause) {
    return fail(`ca-key.pem: ${(cause as Error).message}`, cause);
  }
  if (!spki.equals(ca.spki)) fail('ca-key.pem does not match ca-cert.pem (different public keys)');
  // Istio's cert-chain.pem is ca-cert, then any intermediates, then usually the root: keep what lies between.
  if (chain[0]?.der.equals(ca.der)) chain = chain.slice(1);
  if (chain.length > 0 && chain[chain.length - 1]!.der.equals(root.der)) chain = chain.slice(0, -1);
  const trustDomain = trustDomainOf(ca, given, fail);
  try {
    validateX509SvidSigningCert(ca.cert, trustDomain);
  } catch (cause) {
    fail(`ca-cert.pem cannot sign X509-SVIDs: ${(cause as Error).message}`, cause);
  }
  verifyChain([ca, ...chain, root], now, fail);
  return {
    trustDomain,
    root,
    stored: {
      rootCertPem: root.pem,
      caCertPem: ca.pem,
      certChainPem: [ca, ...chain, root].map((c) => c.pem).join(''),
      caKey: { kind: 'pem', pem: m.caKeyPem },
    },
  };
}

async function readCacertsDir(from: string): Promise<CacertsMaterial> {
  const read = async (name: string) => {
    try {
      return await fs.readFile(path.join(from, name), 'utf8');
    } catch (cause) {
      throw caError('ERR_CACERTS', `cacerts: cannot read ${path.join(from, name)}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
    }
  };
  return {
    caCertPem: await read('ca-cert.pem'),
    caKeyPem: await read('ca-key.pem'),
    certChainPem: await read('cert-chain.pem'),
    rootCertPem: await read('root-cert.pem'),
    source: from,
  };
}

function trustDomainOf(ca: CertificateInfo, given: TrustDomain | undefined, fail: (m: string) => never): TrustDomain {
  const fromCert = spiffeTrustDomainOf(ca);
  if (fromCert === undefined) {
    if (!given) fail('ca-cert.pem has no spiffe:// SAN; pass --trust-domain');
    return given!;
  }
  let td: TrustDomain;
  try {
    td = TrustDomain.of(fromCert);
  } catch (cause) {
    return fail(`ca-cert.pem's spiffe:// SAN does not name a trust domain: ${(cause as Error).message}`);
  }
  if (given && !given.equals(td)) fail(`ca-cert.pem is for trust domain ${td.name}, not ${given.name}`);
  return td;
}

/** Each certificate must be signed by the next, be valid now, and the last must be self-signed. */
function verifyChain(certs: CertificateInfo[], now: Date, fail: (m: string) => never): void {
  const nodes = certs.map((c) => new NodeCertificate(c.der));
  const label = (i: number) => (i === 0 ? 'ca-cert.pem' : i === certs.length - 1 ? 'root-cert.pem' : `cert-chain.pem #${i}`);
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

/** The first commit of a store: slot 1 active, bundle sequence 1. A directory also gets its dev token issuer. */
async function createWith(
  store: CaStore,
  trustDomain: TrustDomain,
  rec: AuthorityRecord,
  stored: StoredAuthority,
  roots: CertificateInfo[],
  keys: KeyProvider,
  stateKeys?: StateKeys,
): Promise<CaDirectory> {
  // The dev issuer first: the state is the commit point, and a crash before it leaves no CA.
  if (store.dir !== undefined) await createDevTokenIssuer(store.dir);
  const state: CaStateFile = {
    format: 1,
    trustDomain: trustDomain.name,
    authorities: [{ ...rec, activatedAt: rec.createdAt, bundleSequenceAdded: 1 }],
    bundleSequence: 1,
    ...(stateKeys ? { keys: stateKeys } : {}),
  };
  const bundle = bundleOf(roots.map((root) => ({ state: 'active' as const, record: rec, root })));
  await store.commit(undefined, { state, add: new Map([[1, stored]]), bundlePem: bundle.map((c) => c.pem).join('') });
  return loadCa(store, keys);
}

function requireDir(dir: string | undefined): string {
  if (dir === undefined) throw new TypeError('ca: dir or store is required');
  return dir;
}

function requireFrom(from: string | undefined): string {
  if (from === undefined) throw new TypeError('cacerts: from or material is required');
  return from;
}

/**
 * A new CA directory must be absent or empty (docs/cli.md, `ca init`): never a folder of other files,
 * such as a source tree, whose next `git add` would take the root key with it.
 */
async function prepareEmptyCaDir(dir: string): Promise<void> {
  // The parent recursively, the directory itself not: Node's recursive mkdir retries forever where the
  // kernel answers ENOENT for a parent that exists (e.g. --dir /proc/x).
  await fs.mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  await fs.mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw caError('ERR_CA_DIR', `ca: cannot create ${dir}: ${err.code ?? err.message}`, { cause: err });
  });
  const st = await fs.lstat(dir);
  if (!st.isDirectory()) throw caError('ERR_CA_DIR', `ca: ${dir} is not a directory`);
  // Looked at before anything is changed: a folder that is not ours to take keeps its mode too.
  const entries = await fs.readdir(dir);
  if (entries.includes('ca.json')) {
    throw caError('ERR_CA_EXISTS', `ca: ${dir} already holds a CA (ca.json); choose another --dir or remove it deliberately`);
  }
  if (entries.length > 0) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, … (${entries.length} entries)` : '');
    throw caError('ERR_CA_DIR', `ca: ${dir} is not empty (${shown}); a CA directory holds private keys: give a new or empty directory outside any source tree`, {
      context: { entries: entries.length },
    });
  }
  await checkCaDirectory(dir);
}

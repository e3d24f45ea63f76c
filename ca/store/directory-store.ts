import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { bundlePemOf } from '../bundle-roots.js';
import { BUNDLE_FILE, parseCaState, serializeCaState, STATE_FILE } from '../ca-state.js';
import { caError } from '../errors.js';
import { readPrivateKeyText, writeFileAtomic } from '../key-files.js';
import type { KeyMaterial } from '../key-provider.js';
import { lockFile } from '../lock-file.js';
import { fileLedgerWitness, ledgerHeadPath } from '../ledger/index.js';
import type { ReplicaReport, AgentReportStore, CaStore, StoredAuthority, StoreSnapshot } from './ca-store.js';
import { checkCaDirectory } from './directory-checks.js';

/** File names inside `authorities/<id>/`, Istio's `cacerts` names where they exist. */
export const AUTHORITY_FILES = {
  rootCert: 'root-cert.pem',
  rootKey: 'root-key.pem',
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  certChain: 'cert-chain.pem',
  /** Castellan's own: the intermediate cross-signed by the previous root (root rotation). */
  crossCert: 'cross-cert.pem',
  /** Castellan's own: the slot's JWT-SVID signing key (docs/jwt-svid.md). */
  jwtKey: 'jwt-key.pem',
} as const;

/** A key kept in a PKCS#11 token is stored as its URI in `<name>.pkcs11` instead of `<name>.pem`. */
const PKCS11_SUFFIX = '.pkcs11';
const LOCK_FILE = 'ca.lock';
/** Folder of the CA directory where each CA replica publishes the agents it hears from. */
export const AGENTS_DIR = 'agents';

/** Path of an authority's folder. */
export function authorityDir(dir: string, id: number): string {
  return path.join(dir, 'authorities', String(id));
}

export interface DirectoryStoreOptions {
  /** How often `watch` checks ca.json, ms. Default 2000. */
  readonly pollMs?: number;
  /** How long a transition waits for another process's lock, ms. Default 15000. */
  readonly lockWaitMs?: number;
}

/**
 * The CA directory as a store (docs/architecture.md §6): `ca.json` is the commit point, each authority
 * a folder `authorities/<id>/` written completely under a temporary name and renamed before ca.json
 * names it, transitions serialised by `ca.lock`. Every read checks that the directory is ours alone.
 *
 * @example const store = directoryStore('/var/lib/castellan'); const snap = await store.read();
 */
export function directoryStore(dir: string, o: DirectoryStoreOptions = {}): CaStore {
  const stateFile = path.join(dir, STATE_FILE);
  return {
    kind: 'directory',
    location: `directory ${dir}`,
    dir,
    async read() {
      await checkCaDirectory(dir);
      const text = await readState(stateFile);
      return text === undefined ? undefined : snapshot(dir, text);
    },
    async commit(base, next) {
      const current = await readState(stateFile);
      if ((current === undefined ? undefined : versionOf(current)) !== base?.version) {
        throw caError('ERR_STORE_CONFLICT', `ca: ${stateFile} changed while this transition ran; it runs again on the new state`);
      }
      for (const [id, a] of next.add) await writeAuthorityDir(dir, id, a);
      await writeFileAtomic(stateFile, serializeCaState(next.state), 0o600);
      await syncBundleFile(dir, next.bundlePem);
    },
    exclusive: (fn) => withDirectoryLock(dir, fn, o.lockWaitMs),
    repair: () => repairDirectory(dir),
    watch(onChange, onError) {
      let last: string | undefined;
      let busy = false;
      const check = async () => {
        if (busy) return;
        busy = true;
        try {
          const st = await fs.stat(stateFile);
          const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
          if (stamp !== last) {
            last = stamp;
            onChange();
          }
        } catch (err) {
          onError(err as Error);
        } finally {
          busy = false;
        }
      };
      const timer = setInterval(() => void check(), o.pollMs ?? 2_000);
      timer.unref();
      void check();
      return () => clearInterval(timer);
    },
    close: async () => {},
    witness: fileLedgerWitness(ledgerHeadPath(dir)),
    agentReports: directoryAgentReports(dir),
  };
}

/**
 * Runs `fn` holding the CA directory's lock (`ca.lock`, O_EXCL): transitions of one directory never
 * interleave, whether they come from the CLI, another CLI or the CA server.
 */
export async function withDirectoryLock<T>(dir: string, fn: () => Promise<T>, waitMs = 15_000): Promise<T> {
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

async function readState(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw caError('ERR_CA_DIR', `ca: cannot read ${file}: ${code ?? 'error'}`, { cause });
  }
}

function versionOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function snapshot(dir: string, text: string): StoreSnapshot {
  return {
    state: parseCaState(text, path.join(dir, STATE_FILE)),
    version: versionOf(text),
    authority: (id) => readAuthority(dir, id),
  };
}

async function readAuthority(dir: string, id: number): Promise<StoredAuthority> {
  const adir = authorityDir(dir, id);
  const text = async (f: string, optional = false): Promise<string | undefined> => {
    try {
      return await fs.readFile(path.join(adir, f), 'utf8');
    } catch (cause) {
      if (optional && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw caError('ERR_CA_DIR', `ca: cannot read ${path.join(adir, f)}; the CA directory is incomplete`, { cause });
    }
  };
  const key = async (name: string, optional: boolean): Promise<KeyMaterial | undefined> => {
    const uri = await text(name.replace(/\.pem$/, PKCS11_SUFFIX), true);
    if (uri !== undefined) return { kind: 'pkcs11', uri: uri.trim() };
    const file = path.join(adir, name);
    if (optional && !(await exists(file))) return undefined;
    return { kind: 'pem', pem: await readPrivateKeyText(file) };
  };
  const rootKey = await key(AUTHORITY_FILES.rootKey, true);
  const jwtKey = await key(AUTHORITY_FILES.jwtKey, true);
  const crossCertPem = await text(AUTHORITY_FILES.crossCert, true);
  return {
    rootCertPem: (await text(AUTHORITY_FILES.rootCert))!,
    caCertPem: (await text(AUTHORITY_FILES.caCert))!,
    certChainPem: (await text(AUTHORITY_FILES.certChain))!,
    ...(crossCertPem !== undefined ? { crossCertPem } : {}),
    ...(rootKey ? { rootKey } : {}),
    caKey: (await key(AUTHORITY_FILES.caKey, false))!,
    ...(jwtKey ? { jwtKey } : {}),
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Writes a new authority folder completely under a temporary name, then renames it into place. */
async function writeAuthorityDir(dir: string, id: number, a: StoredAuthority): Promise<void> {
  const final = authorityDir(dir, id);
  const partial = `${final}.partial`;
  await fs.mkdir(path.dirname(final), { recursive: true, mode: 0o700 });
  await fs.rm(partial, { recursive: true, force: true });
  await fs.mkdir(partial, { mode: 0o700 });
  const writeKey = async (name: string, m: KeyMaterial) =>
    m.kind === 'pem' ? writeFileAtomic(path.join(partial, name), m.pem, 0o600) : writeFileAtomic(path.join(partial, name.replace(/\.pem$/, PKCS11_SUFFIX)), `${m.uri}\n`, 0o600);
  if (a.rootKey) await writeKey(AUTHORITY_FILES.rootKey, a.rootKey);
  await writeKey(AUTHORITY_FILES.caKey, a.caKey);
  if (a.jwtKey) await writeKey(AUTHORITY_FILES.jwtKey, a.jwtKey);
  await writeFileAtomic(path.join(partial, AUTHORITY_FILES.rootCert), a.rootCertPem, 0o644);
  await writeFileAtomic(path.join(partial, AUTHORITY_FILES.caCert), a.caCertPem, 0o644);
  await writeFileAtomic(path.join(partial, AUTHORITY_FILES.certChain), a.certChainPem, 0o644);
  if (a.crossCertPem !== undefined) await writeFileAtomic(path.join(partial, AUTHORITY_FILES.crossCert), a.crossCertPem, 0o644);
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

/** Rewrites `<dir>/bundle.pem` when it differs from `bundlePem`. */
async function syncBundleFile(dir: string, bundlePem: string): Promise<void> {
  const file = path.join(dir, BUNDLE_FILE);
  const current = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (current !== bundlePem) await writeFileAtomic(file, bundlePem, 0o644);
}

/**
 * Brings a CA directory back to a consistent state after a crash: removes authority folders that no
 * committed state names (a transition that died before its commit), finishes a committed rename that
 * did not reach the disk, and rewrites bundle.pem from the committed roots.
 */
async function repairDirectory(dir: string): Promise<void> {
  const text = await readState(path.join(dir, STATE_FILE));
  if (text === undefined) return;
  const state = parseCaState(text, path.join(dir, STATE_FILE));
  const known = new Set(state.authorities.map((a) => a.id));
  const root = path.join(dir, 'authorities');
  const names = await fs.readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    // Only what a transition writes: `<id>` and `<id>.partial`; anything else (an operator's backup) stays.
    const m = /^(\d+)(\.partial)?$/.exec(name);
    if (!m) continue;
    const id = Number(m[1]);
    if (m[2] && known.has(id) && !names.includes(String(id))) {
      await fs.rename(path.join(root, name), path.join(root, String(id)));
      await fsyncDir(root);
    } else if (!known.has(id) || m[2]) {
      await fs.rm(path.join(root, name), { recursive: true, force: true });
    }
  }
  // A crash between ca.json and bundle.pem leaves the copy behind: derive it again.
  await syncBundleFile(dir, await bundlePemOf(state.authorities, async (id) => (await readAuthority(dir, id)).rootCertPem, `directory ${dir}`));
}

/** Agent reports as files `<dir>/agents/<replica>.json`. */
function directoryAgentReports(dir: string): AgentReportStore {
  const folder = path.join(dir, AGENTS_DIR);
  const fileOf = (replica: string) => path.join(folder, `${replica.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
  return {
    async publish(report) {
      await fs.mkdir(folder, { recursive: true, mode: 0o700 });
      await writeFileAtomic(fileOf(report.replica), `${JSON.stringify(report)}\n`, 0o600);
    },
    own: (replica) => readReport(fileOf(replica)),
    async all() {
      const names = await fs.readdir(folder).catch(() => [] as string[]);
      const out: ReplicaReport[] = [];
      for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
        const r = await readReport(path.join(folder, n));
        if (r) out.push(r);
      }
      return out;
    },
    async prune(before) {
      let n = 0;
      const names = await fs.readdir(folder).catch(() => [] as string[]);
      for (const name of names.filter((x) => x.endsWith('.json'))) {
        const r = await readReport(path.join(folder, name));
        if (r && Date.parse(r.writtenAt) < before.getTime()) {
          await fs.rm(path.join(folder, name), { force: true });
          n++;
        }
      }
      return n;
    },
  };
}

/** Parses a published agent report; undefined when it is not one. */
export function parseReplicaReport(text: string): ReplicaReport | undefined {
  try {
    const r = JSON.parse(text) as ReplicaReport;
    return r !== null && typeof r === 'object' && r.format === 1 && typeof r.replica === 'string' && Array.isArray(r.agents) ? r : undefined;
  } catch {
    return undefined;
  }
}

async function readReport(file: string): Promise<ReplicaReport | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseReplicaReport(text);
}

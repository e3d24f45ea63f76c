import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AUTHORITY_FILES, BUNDLE_FILE, certificatesFromPem, ledgerHeadPath, openLedgerStore, readLedgerHead, type LedgerHead, type LedgerStore } from '../ca/index.js';
import { UsageError, type CliIo } from './io.js';
import { ledgerDatabaseUrl } from './database-url.js';

/** Flags every `castellan audit` command takes to find the ledger. */
export interface LedgerFlags {
  dir?: string;
  databaseUrl?: string;
}

/** The ledger named by --dir (SQLite `<dir>/ledger.db`) or --database-url / CASTELLAN_DATABASE_URL (PostgreSQL). */
export async function openAuditStore(f: LedgerFlags, io: CliIo): Promise<LedgerStore> {
  const url = ledgerDatabaseUrl(f.databaseUrl, io);
  if (url === undefined && f.dir === undefined) {
    throw new UsageError('say which ledger: --dir DIR (the CA directory, SQLite) or --database-url postgres://... (or CASTELLAN_DATABASE_URL)');
  }
  return openLedgerStore({ ...(url !== undefined ? { databaseUrl: url } : { dir: path.resolve(io.cwd, f.dir!) }), readOnly: true });
}

/**
 * The roots checkpoints must chain to: every authority's root in the CA directory (retired ones too:
 * their intermediates signed older checkpoints) and bundle.pem, or the PEM file given with --bundle.
 */
export async function trustedRoots(dir: string | undefined, bundle: string | undefined, io: CliIo): Promise<X509Certificate[]> {
  const pems: string[] = [];
  const read = async (file: string, required: boolean) => {
    try {
      pems.push(await fs.readFile(file, 'utf8'));
    } catch (cause) {
      if (required) throw new UsageError(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  if (bundle !== undefined) await read(path.resolve(io.cwd, bundle), true);
  else if (dir !== undefined) {
    const d = path.resolve(io.cwd, dir);
    await read(path.join(d, BUNDLE_FILE), false);
    const ids = await fs.readdir(path.join(d, 'authorities')).catch(() => [] as string[]);
    for (const id of ids) await read(path.join(d, 'authorities', id, AUTHORITY_FILES.rootCert), false);
  } else {
    throw new UsageError('verify needs the trusted roots: --dir DIR (the CA directory) or --bundle FILE (PEM roots)');
  }
  const seen = new Set<string>();
  const roots: X509Certificate[] = [];
  for (const pem of pems) {
    for (const c of certificatesFromPem(pem, { code: 'ERR_CERT_FILE', what: 'audit: trusted roots' })) {
      if (seen.has(c.der.toString('base64'))) continue;
      seen.add(c.der.toString('base64'));
      roots.push(new X509Certificate(c.der));
    }
  }
  if (roots.length === 0) throw new UsageError(`no root certificates found in ${bundle ?? dir}`);
  return roots;
}

/**
 * The certificates allowed to sign checkpoints: the PEM file given with --signers, else every
 * authority's intermediate in the CA directory (`authorities/*\/ca-cert.pem`, retired ones too). With
 * --bundle and no --dir, --signers is required: a root alone also vouches for every other CA under it.
 */
export async function checkpointSigners(dir: string | undefined, signers: string | undefined, io: CliIo): Promise<X509Certificate[]> {
  const pems: string[] = [];
  if (signers !== undefined) {
    const file = path.resolve(io.cwd, signers);
    try {
      pems.push(await fs.readFile(file, 'utf8'));
    } catch (cause) {
      throw new UsageError(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  } else if (dir !== undefined) {
    const d = path.resolve(io.cwd, dir);
    const ids = await fs.readdir(path.join(d, 'authorities')).catch(() => [] as string[]);
    for (const id of ids) pems.push(await fs.readFile(path.join(d, 'authorities', id, AUTHORITY_FILES.caCert), 'utf8').catch(() => ''));
  } else {
    throw new UsageError(
      '--bundle needs --signers FILE: the PEM intermediate certificates of this CA (authorities/*/ca-cert.pem) that may sign ' +
        'checkpoints; a root alone would accept checkpoints signed by any other CA under it',
    );
  }
  const out: X509Certificate[] = [];
  for (const pem of pems) {
    if (pem === '') continue;
    for (const c of certificatesFromPem(pem, { code: 'ERR_CERT_FILE', what: 'audit: checkpoint signers' })) out.push(new X509Certificate(c.der));
  }
  if (out.length === 0) throw new UsageError(`no checkpoint signer certificates found in ${signers ?? dir}`);
  return out;
}

/** The head witness of a CA directory, if it has one. */
export async function headWitness(dir: string | undefined, io: CliIo): Promise<LedgerHead | undefined> {
  return dir === undefined ? undefined : readLedgerHead(ledgerHeadPath(path.resolve(io.cwd, dir)));
}

import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { certificatesFromPem, loadCaCertificates, openLedgerStore, type CertificateInfo, type LedgerHead, type LedgerStore } from '../ca/index.js';
import { caTarget } from './ca-target.js';
import { UsageError, type CliIo } from './io.js';
import { ledgerDatabaseUrl } from './database-url.js';

/** Flags every `castellan audit` command takes to find the ledger. */
export interface LedgerFlags {
  dir?: string;
  config?: string;
  databaseUrl?: string;
}

/**
 * The ledger named by --dir (SQLite `<dir>/ledger.db`), --config (the ledger the CA's configuration
 * names) or --database-url / CASTELLAN_DATABASE_URL (PostgreSQL).
 */
export async function openAuditStore(f: LedgerFlags, io: CliIo): Promise<LedgerStore> {
  const url = ledgerDatabaseUrl(f.databaseUrl, io);
  if (f.dir === undefined && f.config === undefined) {
    if (url === undefined)
      throw new UsageError(
        "say which ledger: --dir DIR (the CA directory, SQLite), --config FILE (the CA's configuration) or --database-url postgres://... (or CASTELLAN_DATABASE_URL)",
      );
    return openLedgerStore({ databaseUrl: url, readOnly: true });
  }
  const target = await caTarget(f, io);
  return openLedgerStore({ ...target.ledger, readOnly: true });
}

/** What `audit verify` checks the ledger against, from the CA's store (--dir / --config) or the files given. */
export interface VerifyAnchors {
  roots: X509Certificate[];
  signers: X509Certificate[];
  head?: LedgerHead;
  /** The hash of record 1 the CA state remembers (a replaced ledger is detected). */
  genesis?: string;
  /** Where the witness was looked for, for the report. */
  witness?: string;
}

/**
 * The roots checkpoints must chain to and the certificates that may sign them: every authority of the
 * CA's store (retired ones too: their intermediates signed older checkpoints), or the PEM files given
 * with --bundle / --signers; the head witness and the remembered first record from the store.
 */
export async function verifyAnchors(f: LedgerFlags & { bundle?: string; signers?: string }, io: CliIo): Promise<VerifyAnchors> {
  const fromStore = f.dir !== undefined || f.config !== undefined ? await loadCaCertificates((await caTarget(f, io)).store) : undefined;
  const roots = f.bundle !== undefined ? await pemFile(f.bundle, io, 'trusted roots') : fromStore ? [...fromStore.bundle, ...fromStore.authorities.map((a) => a.root)] : undefined;
  if (!roots) throw new UsageError('verify needs the trusted roots: --dir DIR or --config FILE (the CA) or --bundle FILE (PEM roots)');
  let signers;
  if (f.signers !== undefined) signers = await pemFile(f.signers, io, 'checkpoint signers');
  else if (fromStore) signers = fromStore.authorities.map((a) => a.issuer);
  else {
    throw new UsageError(
      '--bundle needs --signers FILE: the PEM intermediate certificates of this CA (authorities/*/ca-cert.pem) that may sign ' +
        'checkpoints; a root alone would accept checkpoints signed by any other CA under it',
    );
  }
  const head = fromStore ? await fromStore.store.witness.read() : undefined;
  return {
    roots: unique(roots),
    signers: unique(signers),
    ...(head ? { head } : {}),
    ...(fromStore?.ledgerGenesis !== undefined ? { genesis: fromStore.ledgerGenesis } : {}),
    ...(fromStore ? { witness: fromStore.store.witness.location } : {}),
  };
}

async function pemFile(file: string, io: CliIo, what: string): Promise<CertificateInfo[]> {
  const full = path.resolve(io.cwd, file);
  let text: string;
  try {
    text = await fs.readFile(full, 'utf8');
  } catch (cause) {
    throw new UsageError(`cannot read ${full}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const certs = certificatesFromPem(text, { code: 'ERR_CERT_FILE', what: `audit: ${what}` });
  if (certs.length === 0) throw new UsageError(`no certificates found in ${full}`);
  return certs;
}

function unique(certs: readonly CertificateInfo[]): X509Certificate[] {
  const seen = new Set<string>();
  const out: X509Certificate[] = [];
  for (const c of certs) {
    const k = c.der.toString('base64');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(new X509Certificate(c.der));
  }
  return out;
}

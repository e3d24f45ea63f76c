import type { KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createSvidRequest, type SpiffeId } from '../workload-identity/index.js';
import { CastellanError, isCastellanError } from '../workload-identity/index.js';
import {
  formatDuration,
  generateKey,
  issuedEntry,
  Issuer,
  loadCa,
  parseCsr,
  refusedEntry,
  writeFileAtomic,
  writePrivateKeyFile,
  type CertificateRequest,
  type IssuedCertificate,
  type KeyType,
  type Ledger,
} from '../ca/index.js';
import { choiceFlag, positiveDurationFlag, spiffeIdFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { openCaLedger } from './ca-ledger.js';
import { ledgerDatabaseUrl } from './database-url.js';

interface MintFlags {
  dir: string;
  spiffeId: SpiffeId;
  csr?: string;
  ttl?: number;
  out: string;
  keyType: KeyType;
  force?: boolean;
  databaseUrl?: string;
  output: 'text' | 'json';
}

const LEAF_KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const;

export function registerCaMint(ca: Command, io: CliIo): void {
  ca.command('mint')
    .description('issue an X509-SVID as the operator (no token): for bootstrapping, tests and non-mesh workloads')
    .requiredOption('--dir <dir>', 'CA directory')
    .requiredOption('--spiffe-id <id>', 'identity to certify, e.g. spiffe://cluster.local/ns/default/sa/web', spiffeIdFlag)
    .option('--csr <file>', 'sign this PKCS#10 request (PEM or DER) instead of generating a key')
    .option('--ttl <duration>', 'leaf lifetime, e.g. 1h (default: 24h; at most 7d; capped by the intermediate)', positiveDurationFlag)
    .option('--key-type <type>', `key to generate without --csr: ${LEAF_KEY_TYPES.join(', ')}`, choiceFlag(LEAF_KEY_TYPES), 'ec-p256')
    .option('--out <dir>', 'where to write cert.pem, chain.pem, bundle.pem (and key.pem)', '.')
    .option('--force', 'overwrite existing output files')
    .option('--database-url <url>', 'record the issuance in this PostgreSQL ledger (env CASTELLAN_DATABASE_URL; default: <dir>/ledger.db)')
    .option(
      '--output <format>',
      'text or json (json: {spiffeId, serial, notBefore, notAfter, cappedByIssuer, key, files}; errors as one JSON line on stderr)',
      choiceFlag(['text', 'json'] as const),
      'text',
    )
    .addHelpText(
      'after',
      '\nWrites: cert.pem (the leaf), chain.pem (leaf then intermediates: what a TLS peer presents),\n' +
        'bundle.pem (the trust bundle: roots to verify peers with), key.pem (0600, only when the key is generated).\n' +
        'The issuance (or refusal) is recorded in the ledger before any file is written (api "mint", authenticator "operator").',
    )
    .action(async (f: MintFlags) => {
      const ca = await loadCa(path.resolve(io.cwd, f.dir));
      const issuer = new Issuer({ authority: ca.active, now: () => io.now() });
      let csr: Uint8Array;
      let key: KeyObject | undefined;
      if (f.csr) {
        csr = await fs.readFile(path.resolve(io.cwd, f.csr));
      } else {
        key = generateKey(f.keyType).privateKey;
        csr = await createSvidRequest(key, f.spiffeId);
      }
      const out = path.resolve(io.cwd, f.out);
      const files = { cert: path.join(out, 'cert.pem'), chain: path.join(out, 'chain.pem'), bundle: path.join(out, 'bundle.pem'), key: path.join(out, 'key.pem') };
      if (!f.force) {
        for (const file of key ? Object.values(files) : [files.cert, files.chain, files.bundle]) {
          if (await exists(file)) throw new UsageError(`${file} exists; pass --force to overwrite or choose another --out`);
        }
      }
      const databaseUrl = ledgerDatabaseUrl(f.databaseUrl, io);
      const { ledger, done } = await openCaLedger(ca, databaseUrl, io);
      let cert: IssuedCertificate;
      try {
        cert = await issueRecorded(ledger, issuer, f, csr, io);
      } finally {
        await done();
      }

      await fs.mkdir(out, { recursive: true });
      if (key) await writePrivateKeyFile(files.key, key);
      await writeFileAtomic(files.cert, cert.leafPem, 0o644);
      await writeFileAtomic(files.chain, cert.leafPem + cert.chainPem.slice(0, -1).join(''), 0o644);
      await writeFileAtomic(files.bundle, ca.bundle.map((c) => c.pem).join(''), 0o644);
      if (f.output === 'json') {
        io.out(
          `${JSON.stringify(
            {
              spiffeId: cert.spiffeId.toString(),
              serial: cert.serialHex,
              notBefore: cert.notBefore.toISOString(),
              notAfter: cert.notAfter.toISOString(),
              cappedByIssuer: cert.cappedByIssuer,
              key: { type: cert.request.keyDescription, generated: key !== undefined },
              files: { cert: files.cert, chain: files.chain, bundle: files.bundle, key: key ? files.key : null },
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const life = formatDuration(cert.notAfter.getTime() - io.now().getTime());
      io.out(
        `issued ${cert.spiffeId.toString()}\n` +
          `  serial   ${cert.serialHex}\n` +
          `  expires  ${cert.notAfter.toISOString()} (in ${life}${cert.cappedByIssuer ? ', capped by the intermediate' : ''})\n` +
          `  key      ${cert.request.keyDescription}${key ? ' (generated, key.pem)' : ' (from the CSR)'}\n` +
          `wrote ${[key ? files.key : undefined, files.cert, files.chain, files.bundle].filter(Boolean).join(', ')}\n`,
      );
    });
}

/** Issues as the operator and records the outcome; the certificate exists only once its record committed. */
async function issueRecorded(ledger: Ledger, issuer: Issuer, f: MintFlags, csr: Uint8Array, io: CliIo): Promise<IssuedCertificate> {
  const facts = { api: 'mint' as const, authority: issuer.authority, peer: `local uid ${process.getuid?.() ?? '?'}` };
  const operator = { authenticator: 'operator', spiffeId: f.spiffeId.toString() };
  let request: CertificateRequest | undefined;
  let cert: IssuedCertificate;
  try {
    request = parseCsr(csr);
    cert = issuer.issue(f.spiffeId, request, f.ttl === undefined ? {} : { ttlMs: f.ttl });
  } catch (err) {
    // The refusal is what the operator must see; a ledger failure while recording it is reported beside it.
    if (isCastellanError(err)) {
      await ledger.append({ ...refusedEntry({ ...facts, csrSpki: request?.spki }, err.code), ...operator }).catch((cause: unknown) => {
        io.err(`ca mint: the refusal below could not be recorded in the ledger: ${(cause as Error).message}\n`);
      });
    }
    throw err;
  }
  try {
    await ledger.append({ ...issuedEntry(facts, cert), ...operator });
  } catch (cause) {
    throw new CastellanError('ERR_LEDGER_UNAVAILABLE', `ca mint: the ledger is unavailable, so no certificate was written: ${(cause as Error).message}`, { cause });
  }
  return cert;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

import path from 'node:path';
import type { Command } from 'commander';
import { TrustDomain } from '../workload-identity/index.js';
import { formatDuration, importCacerts, initCa, type CaDirectory, type KeyType } from '../ca/index.js';
import { durationFlag, keyTypeFlag, trustDomainFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { ledgerDatabaseUrl } from './database-url.js';
import { recordCaInit } from './ca-init-record.js';

interface InitFlags {
  dir: string;
  trustDomain?: TrustDomain;
  keyType?: KeyType;
  rootTtl?: number;
  intermediateTtl?: number;
  fromCacerts?: string;
  databaseUrl?: string;
}

/** One line per authority certificate, for people. */
export function describeCa(ca: CaDirectory, now: Date): string {
  const a = ca.active;
  const left = (d: Date) => formatDuration(d.getTime() - now.getTime());
  const line = (label: string, c: typeof a.root) =>
    `  ${label.padEnd(13)} ${c.cert.subject}\n  ${''.padEnd(13)} serial ${c.serialHex}, expires ${c.notAfter.toISOString()} (in ${left(c.notAfter)})\n`;
  return (
    `trust domain  ${ca.trustDomain.name}\n` +
    `key           ${a.signer.keyType} (${a.source === 'cacerts' ? 'plugged in from cacerts' : 'generated'})\n` +
    line('root', a.root) +
    a.parents.slice(0, -1).map((p) => line('intermediate', p)).join('') +
    line('issuing CA', a.issuer)
  );
}

export function registerCaInit(ca: Command, io: CliIo): void {
  ca.command('init')
    .description('create a CA: a new self-signed root and an intermediate, or plug in an Istio-style cacerts directory')
    .requiredOption('--dir <dir>', 'CA directory to create (mode 0700; keys 0600)')
    .option('--trust-domain <name>', 'SPIFFE trust domain (default: cluster.local; with --from-cacerts: read from ca-cert.pem)', trustDomainFlag)
    .option('--key-type <type>', 'CA key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 (default: ec-p256)', keyTypeFlag)
    .option('--root-ttl <duration>', 'root lifetime, e.g. 10y (default: 10y)', durationFlag)
    .option('--intermediate-ttl <duration>', 'intermediate lifetime, capped by the root (default: 1y)', durationFlag)
    .option('--from-cacerts <dir>', 'plug in ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem from <dir> instead of generating')
    .option('--database-url <url>', 'record the creation in this PostgreSQL ledger (env CASTELLAN_DATABASE_URL; default: <dir>/ledger.db)')
    .addHelpText(
      'after',
      '\nFiles: <dir>/ca.json (state), <dir>/bundle.pem (trust bundle), <dir>/authorities/1/{root-cert,ca-cert,cert-chain}.pem\n' +
        'and the keys root-key.pem, ca-key.pem (0600), the ledger <dir>/ledger.db (0600) with a ca-init record and\n' +
        'its head witness <dir>/ledger-head.json. Refuses a directory that already holds a CA.',
    )
    .action(async (f: InitFlags) => {
      const dir = path.resolve(io.cwd, f.dir);
      let ca: CaDirectory;
      if (f.fromCacerts) {
        if (f.keyType || f.rootTtl || f.intermediateTtl) {
          throw new UsageError('--key-type, --root-ttl and --intermediate-ttl do not apply with --from-cacerts (the keys and certificates are given)');
        }
        ca = await importCacerts({ dir, from: path.resolve(io.cwd, f.fromCacerts), ...(f.trustDomain ? { trustDomain: f.trustDomain } : {}), now: io.now() });
      } else {
        ca = await initCa({
          dir,
          trustDomain: f.trustDomain ?? TrustDomain.of('cluster.local'),
          ...(f.keyType ? { keyType: f.keyType } : {}),
          ...(f.rootTtl ? { rootTtlMs: f.rootTtl } : {}),
          ...(f.intermediateTtl ? { intermediateTtlMs: f.intermediateTtl } : {}),
          now: io.now(),
        });
      }
      await recordCaInit(ca, ledgerDatabaseUrl(f.databaseUrl, io), io, 'ca init');
      io.out(`created CA in ${dir}\n${describeCa(ca, io.now())}`);
      io.out(`\nnext: castellan ca mint --dir ${f.dir} --spiffe-id spiffe://${ca.trustDomain.name}/ns/default/sa/demo --out ./demo\n`);
    });
}

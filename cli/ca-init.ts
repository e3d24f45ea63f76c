import path from 'node:path';
import type { Command } from 'commander';
import { TrustDomain } from '../workload-identity/index.js';
import {
  closeKeyProviders,
  formatDuration,
  importCacerts,
  initCa,
  keyProviderFor,
  softwareKeyProvider,
  type CaDirectory,
  type KeyProvider,
  type KeyType,
  type StateKeys,
} from '../ca/index.js';
import { choiceFlag, positiveDurationFlag, keyTypeFlag, trustDomainFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { ledgerDatabaseUrl } from './database-url.js';
import { recordCaInit } from './ca-init-record.js';
import { progress, type Progress } from './progress.js';

interface InitFlags {
  dir: string;
  trustDomain?: TrustDomain;
  keyType?: KeyType;
  rootTtl?: number;
  intermediateTtl?: number;
  fromCacerts?: string;
  databaseUrl?: string;
  pkcs11Module?: string;
  pkcs11Token?: string;
  pkcs11Slot?: number;
  pkcs11PinFile?: string;
  pkcs11PinEnv?: string;
  output: 'text' | 'json';
}

/** What `ca init --output json` prints: the CA created, its certificates and where they are. */
export function caJson(ca: CaDirectory, dir: string): Record<string, unknown> {
  const a = ca.active;
  const cert = (c: typeof a.root) => ({
    subject: c.cert.subject,
    serial: c.serialHex,
    keyId: c.ski.toString('hex'),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
  });
  return {
    dir,
    trustDomain: ca.trustDomain.name,
    keyType: a.signer.keyType,
    keys: ca.keys.description,
    source: a.source,
    authority: { id: a.id, root: cert(a.root), intermediates: a.parents.slice(0, -1).map(cert), issuer: cert(a.issuer) },
    bundle: ca.store.dir !== undefined ? `${ca.store.dir}/bundle.pem` : null,
  };
}

/** One line per authority certificate, for people. */
export function describeCa(ca: CaDirectory, now: Date): string {
  const a = ca.active;
  const left = (d: Date) => formatDuration(d.getTime() - now.getTime());
  const line = (label: string, c: typeof a.root) =>
    `  ${label.padEnd(13)} ${c.cert.subject}\n  ${''.padEnd(13)} serial ${c.serialHex}, expires ${c.notAfter.toISOString()} (in ${left(c.notAfter)})\n`;
  return (
    `trust domain  ${ca.trustDomain.name}\n` +
    `key           ${a.signer.keyType} (${a.source === 'cacerts' ? 'plugged in from cacerts' : ca.keys.description === 'software' ? 'generated' : `generated in ${ca.keys.description}`})\n` +
    line('root', a.root) +
    a.parents
      .slice(0, -1)
      .map((p) => line('intermediate', p))
      .join('') +
    line('issuing CA', a.issuer)
  );
}

export function registerCaInit(ca: Command, io: CliIo): void {
  ca.command('init')
    .description('create a CA: a new self-signed root and an intermediate, or plug in an Istio-style cacerts directory')
    .requiredOption('--dir <dir>', 'CA directory to create (mode 0700; keys 0600)')
    .option('--trust-domain <name>', 'SPIFFE trust domain (default: cluster.local; with --from-cacerts: read from ca-cert.pem)', trustDomainFlag)
    .option('--key-type <type>', 'CA key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 (default: ec-p256)', keyTypeFlag)
    .option('--root-ttl <duration>', 'root lifetime, e.g. 10y (default: 10y)', positiveDurationFlag)
    .option('--intermediate-ttl <duration>', 'intermediate lifetime, capped by the root (default: 1y)', positiveDurationFlag)
    .option('--from-cacerts <dir>', 'plug in ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem from <dir> instead of generating')
    .option('--database-url <url>', 'record the creation in this PostgreSQL ledger (env CASTELLAN_DATABASE_URL; default: <dir>/ledger.db)')
    .option('--pkcs11-module <file>', 'generate the CA keys in a PKCS#11 token (HSM) through this vendor library (.so); they never leave it')
    .option('--pkcs11-token <label>', "the token's label (with --pkcs11-module)")
    .option('--pkcs11-slot <id>', "the token's slot id, when labels are not unique (with --pkcs11-module)", slotFlag)
    .option('--pkcs11-pin-file <file>', 'a 0600 file holding the user PIN (default: env CASTELLAN_PKCS11_PIN_FILE)')
    .option('--pkcs11-pin-env <name>', 'an environment variable holding the user PIN (default: CASTELLAN_PKCS11_PIN)')
    .option(
      '--output <format>',
      'text or json (json: {dir, trustDomain, keyType, keys, source, authority, bundle}; errors as one JSON line on stderr)',
      choiceFlag(['text', 'json'] as const),
      'text',
    )
    .addHelpText(
      'after',
      '\nFiles: <dir>/ca.json (state), <dir>/bundle.pem (trust bundle), <dir>/authorities/1/{root-cert,ca-cert,cert-chain}.pem\n' +
        'and the keys root-key.pem, ca-key.pem (0600), the ledger <dir>/ledger.db (0600) with a ca-init record and\n' +
        'its head witness <dir>/ledger-head.json. The directory must be new or empty (never a source tree).\n' +
        'With --pkcs11-module the keys are made in the token (CKA_EXTRACTABLE false) and the directory holds only\n' +
        'their pkcs11: URIs (root-key.pkcs11, ca-key.pkcs11); ca.json records module and token (never the PIN), and\n' +
        'every later command reads the PIN from CASTELLAN_PKCS11_PIN_FILE or CASTELLAN_PKCS11_PIN (docs/pkcs11.md).',
    )
    .action(async (f: InitFlags) => {
      const dir = path.resolve(io.cwd, f.dir);
      let ca: CaDirectory;
      if (f.fromCacerts) {
        if (f.keyType || f.rootTtl !== undefined || f.intermediateTtl !== undefined) {
          throw new UsageError('--key-type, --root-ttl and --intermediate-ttl do not apply with --from-cacerts (the keys and certificates are given)');
        }
        if (pkcs11Of(f)) throw new UsageError('--pkcs11-* does not apply with --from-cacerts (the plugged-in key is given as a file)');
        ca = await importCacerts({ dir, from: path.resolve(io.cwd, f.fromCacerts), ...(f.trustDomain ? { trustDomain: f.trustDomain } : {}), now: io.now() });
      } else {
        const hsm = pkcs11Of(f);
        const base = hsm ? await keyProviderFor(hsm.stateKeys, hsm.pin) : softwareKeyProvider;
        const p = progress(io, 'ca init');
        try {
          ca = await initCa({
            dir,
            keys: announcingKeys(base, f.keyType ?? 'ec-p256', p),
            ...(hsm ? { stateKeys: hsm.stateKeys } : {}),
            trustDomain: f.trustDomain ?? TrustDomain.of('cluster.local'),
            ...(f.keyType ? { keyType: f.keyType } : {}),
            ...(f.rootTtl !== undefined ? { rootTtlMs: f.rootTtl } : {}),
            ...(f.intermediateTtl !== undefined ? { intermediateTtlMs: f.intermediateTtl } : {}),
            now: io.now(),
          });
        } finally {
          p.end();
        }
      }
      try {
        await recordCaInit(ca, ledgerDatabaseUrl(f.databaseUrl, io), io, 'ca init');
      } finally {
        await closeKeyProviders();
      }
      if (f.output === 'json') {
        io.out(`${JSON.stringify(caJson(ca, dir), null, 2)}\n`);
        return;
      }
      io.out(`created CA in ${dir}\n${describeCa(ca, io.now())}`);
      io.out(`\nnext: castellan ca mint --dir ${f.dir} --spiffe-id spiffe://${ca.trustDomain.name}/ns/default/sa/demo --out ./demo\n`);
    });
}

/**
 * `keys` that say on the progress line which key is being made before making it: an RSA-4096 key takes
 * seconds (the generation blocks), and `ca init` makes two.
 */
function announcingKeys(keys: KeyProvider, keyType: KeyType, p: Progress): KeyProvider {
  let n = 0;
  return {
    description: keys.description,
    generate: (type, label) => {
      n++;
      p.note(
        `generating the ${n === 1 ? 'root' : 'intermediate'} key (${type}${keys.description === 'software' ? '' : ` in ${keys.description}`}), ${n} of 2${keyType.startsWith('rsa') ? '; RSA keys take a few seconds' : ''}…`,
      );
      return keys.generate(type, label);
    },
    open: (m) => keys.open(m),
    close: () => keys.close(),
  };
}

function slotFlag(v: string): number {
  if (!/^\d+$/.test(v)) throw new UsageError(`--pkcs11-slot: "${v}" is not a slot id (a non-negative integer)`);
  return Number(v);
}

/** The token the flags name, or undefined without --pkcs11-module. */
function pkcs11Of(f: InitFlags): { stateKeys: StateKeys; pin: { pinFile?: string; pinEnv?: string } } | undefined {
  const given = f.pkcs11Token !== undefined || f.pkcs11Slot !== undefined || f.pkcs11PinFile !== undefined || f.pkcs11PinEnv !== undefined;
  if (f.pkcs11Module === undefined) {
    if (given) throw new UsageError('--pkcs11-token, --pkcs11-slot and --pkcs11-pin-* need --pkcs11-module');
    return undefined;
  }
  if (f.pkcs11Token === undefined && f.pkcs11Slot === undefined) throw new UsageError('--pkcs11-module needs --pkcs11-token LABEL (or --pkcs11-slot ID)');
  if (f.pkcs11PinFile !== undefined && f.pkcs11PinEnv !== undefined) throw new UsageError('give one PIN source: --pkcs11-pin-file or --pkcs11-pin-env');
  return {
    stateKeys: {
      pkcs11: { module: f.pkcs11Module, ...(f.pkcs11Token !== undefined ? { token: f.pkcs11Token } : {}), ...(f.pkcs11Slot !== undefined ? { slot: f.pkcs11Slot } : {}) },
    },
    pin: f.pkcs11PinFile !== undefined ? { pinFile: f.pkcs11PinFile } : f.pkcs11PinEnv !== undefined ? { pinEnv: f.pkcs11PinEnv } : {},
  };
}

import { promises as fs } from 'node:fs';
import { createPublicKey, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { caError, formatDuration, certificateInfo, pemBlocks } from '../ca/index.js';
import { CastellanError, createSvidRequest, type SpiffeId } from '../workload-identity/index.js';
import { CaClient, generateWorkloadKey, WORKLOAD_KEY_TYPES, type WorkloadKeyType } from '../sds/index.js';
import { inspectCertificate, verifyChain, type LoadedCertificate } from './certificate-report.js';
import { choiceFlag, positiveDurationFlag, spiffeIdFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

/** A certificate the CA issued failed one of the checks (exit 1). */
export type CertRequestErrorCode = 'ERR_CERT_CHECK';

const OUTPUTS = ['text', 'json'] as const;

interface RequestFlags {
  caAddr?: string;
  caBundle?: string;
  caServerName?: string;
  tokenFile?: string;
  ttl: number;
  keyType: WorkloadKeyType;
  expectSpiffeId?: SpiffeId;
  output: (typeof OUTPUTS)[number];
}

/** What `cert request` found, as `--output json` prints it. */
export interface CertRequestReport {
  readonly ok: boolean;
  readonly spiffeId: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly chainLength: number;
  readonly bundleRoots: number;
  /** Every check, in order, with its verdict. */
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail?: string }[];
}

function loaded(der: Buffer): LoadedCertificate {
  const info = certificateInfo(der, { code: 'ERR_CERT_FILE', what: 'certificate' });
  return { info, node: new X509Certificate(info.der) };
}

async function readFlagFile(file: string, what: string, io: CliIo): Promise<string> {
  try {
    return await fs.readFile(path.resolve(io.cwd, file), 'utf8');
  } catch (cause) {
    throw caError('ERR_CERT_FILE', `cert request: cannot read the ${what} ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
}

/**
 * `castellan cert request`: asks a running CA for a certificate with a service-account token, exactly
 * as an agent would (a fresh key in memory, a CSR without SAN, `castellan.ca.v1` Sign over TLS), and
 * checks the answer independently: the chain verifies up to a root of `--ca-bundle`, the leaf follows
 * the X509-SVID rules and holds our key, and the identity is the expected one. Nothing is written; the
 * key is discarded. The Helm chart's `helm test` pod runs it.
 *
 * @example await run(['cert', 'request', '--ca-addr', 'castellan.castellan-system.svc:15012', '--ca-bundle', 'roots.pem', '--token-file', 'token'], io)
 */
export function registerCertRequest(cert: Command, io: CliIo): void {
  cert
    .command('request')
    .description('get a certificate from a running CA with a service-account token and verify it (a smoke test; nothing is written)')
    .option('--ca-addr <host:port>', 'CA gRPC address (env CASTELLAN_CA_ADDR)', io.env.CASTELLAN_CA_ADDR)
    .option(
      '--ca-bundle <file>',
      "PEM roots that verify the CA's certificate and the issued chain, e.g. the castellan-root-cert ConfigMap (env CASTELLAN_CA_BUNDLE)",
      io.env.CASTELLAN_CA_BUNDLE,
    )
    .option('--ca-server-name <name>', "DNS name expected in the CA's certificate (env CASTELLAN_CA_SERVER_NAME; default: the host of --ca-addr)", io.env.CASTELLAN_CA_SERVER_NAME)
    .option('--token-file <file>', 'service-account token to authenticate with (env CASTELLAN_TOKEN_FILE)', io.env.CASTELLAN_TOKEN_FILE)
    .addOption(new Option('--ttl <duration>', 'lifetime to ask for').argParser(positiveDurationFlag).default(3_600_000, '1h'))
    .option('--key-type <type>', `key type: ${WORKLOAD_KEY_TYPES.join(', ')}`, choiceFlag(WORKLOAD_KEY_TYPES), 'ec-p256')
    .option('--expect-spiffe-id <id>', 'fail unless the CA issued exactly this identity', spiffeIdFlag)
    .option('--output <format>', `output format: ${OUTPUTS.join(', ')}`, choiceFlag(OUTPUTS), 'text')
    .addHelpText(
      'after',
      '\nChecks, in order: the CA answers over TLS (its certificate verifies against --ca-bundle); it issues for\n' +
        'the token; the chain (leaf, intermediates) verifies up to a root of --ca-bundle and is valid now; the\n' +
        'leaf is a valid X509-SVID holding the key this command generated; with --expect-spiffe-id, the identity.\n' +
        '\nExit codes: 0 every check passed; 1 a check failed or the CA refused (the reason on stderr);\n' +
        '2 wrong usage (a flag missing or malformed).',
    )
    .action(async (f: RequestFlags) => {
      const missing = (['caAddr', 'caBundle', 'tokenFile'] as const).filter((k) => !f[k]);
      if (missing.length > 0) {
        const names = { caAddr: '--ca-addr', caBundle: '--ca-bundle', tokenFile: '--token-file' };
        throw new UsageError(`cert request: missing ${missing.map((k) => names[k]).join(', ')}`);
      }
      const bundlePem = await readFlagFile(f.caBundle!, 'CA bundle', io);
      const token = (await readFlagFile(f.tokenFile!, 'token file', io)).trim();
      const roots = pemBlocks(bundlePem, 'CERTIFICATE', { code: 'ERR_CERT_FILE', what: 'bundle' }).map(loaded);
      if (roots.length === 0) throw caError('ERR_CERT_FILE', `cert request: ${f.caBundle} holds no certificate`);

      const key = await generateWorkloadKey(f.keyType);
      const client = new CaClient({ address: f.caAddr!, caBundlePem: bundlePem, ...(f.caServerName ? { serverName: f.caServerName } : {}), callTimeoutMs: 30_000 });
      let signed;
      try {
        signed = await client.sign({ csrDer: await createSvidRequest(key), ttlSeconds: Math.round(f.ttl / 1000), bundleSequence: 0, agentId: 'castellan-cert-request', token });
      } finally {
        client.close();
      }

      const now = io.now();
      const chain = signed.chainDer.map(loaded);
      const leaf = inspectCertificate(chain[0]!, now);
      const verdict = verifyChain(chain, roots, now);
      const ourKey = createPublicKey(key).export({ format: 'der', type: 'spki' });
      const leafKey = chain[0]!.node.publicKey.export({ format: 'der', type: 'spki' });
      const checks: { name: string; ok: boolean; detail?: string }[] = [
        { name: 'chain verifies up to a root of the CA bundle', ok: verdict.verified, ...(verdict.error ? { detail: verdict.error } : {}) },
        { name: 'leaf is a valid X509-SVID', ok: leaf.svid.valid, ...(leaf.svid.message ? { detail: leaf.svid.message } : {}) },
        { name: 'leaf holds the generated key', ok: ourKey.equals(leafKey) },
        { name: 'identity in the leaf is the one the CA reported', ok: leaf.svid.spiffeId === signed.id.toString(), detail: `${leaf.svid.spiffeId ?? '(none)'}` },
      ];
      if (f.expectSpiffeId)
        checks.push({ name: 'identity is the expected one', ok: signed.id.equals(f.expectSpiffeId), detail: `want ${f.expectSpiffeId.toString()}, got ${signed.id.toString()}` });
      const report: CertRequestReport = {
        ok: checks.every((c) => c.ok),
        spiffeId: signed.id.toString(),
        serial: signed.serialHex,
        notBefore: signed.notBefore.toISOString(),
        notAfter: signed.notAfter.toISOString(),
        chainLength: chain.length,
        bundleRoots: roots.length,
        checks,
      };
      if (f.output === 'json') io.out(`${JSON.stringify(report, null, 2)}\n`);
      else {
        io.out(`identity   ${report.spiffeId}\nserial     ${report.serial}\nexpires    ${report.notAfter} (in ${formatDuration(signed.notAfter.getTime() - now.getTime())})\n`);
        for (const c of checks) io.out(`${c.ok ? 'ok  ' : 'FAIL'}       ${c.name}${c.ok || !c.detail ? '' : `: ${c.detail}`}\n`);
      }
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0)
        throw new CastellanError<CertRequestErrorCode>('ERR_CERT_CHECK', `cert request: ${failed.map((c) => `${c.name} failed${c.detail ? ` (${c.detail})` : ''}`).join('; ')}`);
    });
}

import path from 'node:path';
import { Option, type Command } from 'commander';
import { kubernetesWorkloadId, mintServiceAccountToken, tokenSha256, TrustDomain } from '../workload-identity/index.js';
import { loadDevTokenIssuer, writeFileAtomic } from '../ca/index.js';
import { tokenExpiry } from '../sds/index.js';
import { choiceFlag, positiveDurationFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

interface TokenMintFlags {
  dir: string;
  namespace: string;
  serviceAccount: string;
  audience: string[];
  ttl: number;
  pod?: string;
  out?: string;
  output: 'text' | 'json';
}

const MAX_TTL_MS = 48 * 3_600_000;

export function registerTokenMint(program: Command, io: CliIo): void {
  const token = program.command('token').description('service-account tokens of the local dev issuer (embedded default, no cluster)');
  token
    .command('mint')
    .description("mint a token shaped exactly like a Kubernetes projected service-account token, signed by the CA directory's dev issuer")
    .requiredOption('--dir <dir>', 'CA directory (created by castellan ca init)')
    .requiredOption('--namespace <ns>', 'Kubernetes namespace of the workload')
    .requiredOption('--service-account <sa>', 'service account of the workload')
    .option('--audience <aud>', 'audience (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .addOption(new Option('--ttl <duration>', 'lifetime, at most 48h').argParser(positiveDurationFlag).default(3_600_000, '1h'))
    .option('--pod <name[:uid]>', 'bind the token to a pod, as a projected volume token is')
    .option('--out <file>', 'write the token to <file> (0600) and print only its SHA-256')
    .option(
      '--output <format>',
      'text or json (json: {subject, audiences, expiresAt, sha256, file} and the token itself only without --out)',
      choiceFlag(['text', 'json'] as const),
      'text',
    )
    .addHelpText('after', '\nWithout --out the token is printed on stdout: it is a credential, treat the output as a secret.')
    .action(async (f: TokenMintFlags) => {
      const check = (what: string, fn: () => void) => {
        try {
          fn();
        } catch (err) {
          throw new UsageError(`${what}: ${(err as Error).message}`);
        }
      };
      check('--namespace/--service-account', () => kubernetesWorkloadId(TrustDomain.of('x'), f.namespace, f.serviceAccount));
      if (f.ttl <= 0 || f.ttl > MAX_TTL_MS || f.ttl % 1000 !== 0) throw new UsageError('--ttl: want whole seconds between 1s and 48h');
      let pod: { name: string; uid: string } | undefined;
      if (f.pod !== undefined) {
        const [name, uid] = f.pod.split(':');
        if (!name) throw new UsageError('--pod: want NAME or NAME:UID');
        pod = { name, uid: uid || crypto.randomUUID() };
      }
      const issuer = await loadDevTokenIssuer(path.resolve(io.cwd, f.dir));
      const jwt = await mintServiceAccountToken(issuer.privateKey, issuer.kid, {
        issuer: issuer.issuer,
        audiences: f.audience && f.audience.length > 0 ? f.audience : ['castellan'],
        namespace: f.namespace,
        serviceAccount: f.serviceAccount,
        ttlSeconds: f.ttl / 1000,
        ...(pod ? { pod } : {}),
        now: io.now(),
      });
      const file = f.out ? path.resolve(io.cwd, f.out) : undefined;
      if (file) await writeFileAtomic(file, jwt, 0o600);
      if (f.output === 'json') {
        const audiences = f.audience && f.audience.length > 0 ? f.audience : ['castellan'];
        const expiresAt = tokenExpiry(jwt)?.toISOString() ?? null;
        const fields = { subject: `system:serviceaccount:${f.namespace}:${f.serviceAccount}`, audiences, expiresAt, sha256: tokenSha256(jwt) };
        io.out(`${JSON.stringify(file ? { ...fields, file } : { ...fields, token: jwt }, null, 2)}\n`);
      } else if (file) {
        io.out(`wrote ${file} (sha256 ${tokenSha256(jwt)})\n`);
      } else {
        io.out(`${jwt}\n`);
      }
    });
}

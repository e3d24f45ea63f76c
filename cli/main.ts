import 'reflect-metadata';
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerAudit } from './audit.js';
import { registerBundle, registerFederation } from './bundle.js';
import { registerCaInit } from './ca-init.js';
import { registerCaMint } from './ca-mint.js';
import { registerCaServe } from './ca-serve.js';
import { registerCertInspect } from './cert-inspect.js';
import { registerCertRequest } from './cert-request.js';
import { registerCheck } from './check.js';
import { registerDev } from './dev.js';
import { registerRoot } from './root.js';
import { registerTokenMint } from './token-mint.js';
import { exitFor } from './exit-codes.js';
import { closeKeyProviders } from '../ca/index.js';
import { processIo, type CliIo } from './io.js';

const VERSION = '0.1.0';

/** Builds the `castellan` command tree writing to `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('castellan')
    .description('Castellan: a workload-identity CA for service meshes (SPIFFE X509-SVIDs for Envoy and proxyless workloads)')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 failure (the reason is printed on stderr), 2 wrong usage,\n' +
        '3 refused by a safety gate (root activate/retire; --force overrides), 4/5 castellan check: warning/failing.\n' +
        'Start with: castellan dev   (a local CA and a demo mTLS handshake, no cluster needed)',
    );
  const ca = program.command('ca').description('operate a certificate authority: create it, issue certificates');
  registerCaInit(ca, io);
  registerCaMint(ca, io);
  registerCaServe(ca, io);
  const cert = program.command('cert').description('look at certificates');
  registerCertInspect(cert, io);
  registerCertRequest(cert, io);
  registerAgent(program, io);
  registerRoot(program, io);
  registerCheck(program, io);
  registerAudit(program, io);
  registerTokenMint(program, io);
  registerBundle(program, io);
  registerFederation(program, io);
  registerDev(program, io);

  // Every (sub)command: output through io, errors as exceptions (exit codes come from exitFor).
  const configure = (c: Command) => {
    c.exitOverride().configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(s.startsWith('error: ') ? `castellan: ${s.slice(7)}` : s),
    });
    c.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/**
 * Runs `castellan` with `argv` (without node and script) and returns the exit code.
 *
 * @example const code = await run(['ca', 'init', '--dir', '/tmp/ca'], io);
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    const { code, line } = exitFor(err);
    if (line !== undefined) io.err(`castellan: ${line}\n`);
    if (io.env.CASTELLAN_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return code;
  } finally {
    // A command that opened an HSM token logs out of it (docs/pkcs11.md).
    await closeKeyProviders().catch(() => {});
  }
}

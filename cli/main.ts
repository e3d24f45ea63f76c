import 'reflect-metadata';
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerAgentStatus } from './agent-status.js';
import { registerAudit } from './audit.js';
import { registerBundle, registerFederation } from './bundle.js';
import { registerCaInit } from './ca-init.js';
import { registerCaMint } from './ca-mint.js';
import { registerCaServe } from './ca-serve.js';
import { registerCertInspect } from './cert-inspect.js';
import { registerCertRequest } from './cert-request.js';
import { registerCheck } from './check.js';
import { registerCompletion } from './completion.js';
import { registerConfig } from './config-validate.js';
import { registerDev } from './dev.js';
import { registerRoot } from './root.js';
import { registerTokenMint } from './token-mint.js';
import { registerVersion } from './version.js';
import { exitFor, reportFailure, wantsJson } from './exit-codes.js';
import { closeKeyProviders } from '../ca/index.js';
import { processIo, type CliIo } from './io.js';

const VERSION = '0.1.0';

/** Builds the `castellan` command tree writing to `io`. */
export function buildProgram(io: CliIo, o: { jsonErrors?: boolean } = {}): Command {
  const program = new Command('castellan')
    .description('Castellan: a workload-identity CA for service meshes (SPIFFE X509-SVIDs for Envoy and proxyless workloads)')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 failure (the reason is printed on stderr), 2 wrong usage,\n' +
        '3 refused by a safety gate (root activate/retire; --force overrides), 4/5 castellan check: warning/failing\n' +
        '(5 also from root status for an expired CA). With --output json, errors are one JSON line on stderr.\n' +
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
  registerAgentStatus(program, io);
  registerRoot(program, io);
  registerCheck(program, io);
  registerAudit(program, io);
  registerTokenMint(program, io);
  registerBundle(program, io);
  registerFederation(program, io);
  registerDev(program, io);
  registerVersion(program, io);
  registerConfig(program, io);
  registerCompletion(program, io);

  // Every (sub)command: output through io, errors as exceptions (exit codes come from exitFor).
  const configure = (c: Command) => {
    c.exitOverride().configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // With --output json the error is printed once, as JSON, by run().
      outputError: (s, write) => (o.jsonErrors ? undefined : write(s.startsWith('error: ') ? `castellan: ${s.slice(7)}` : s)),
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
  const json = wantsJson(argv);
  const program = buildProgram(io, { jsonErrors: json });
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    const failure = exitFor(err);
    const code = failure.code;
    reportFailure(failure, io, json);
    if (io.env.CASTELLAN_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return code;
  } finally {
    // A command that opened an HSM token logs out of it (docs/pkcs11.md).
    await closeKeyProviders().catch(() => {});
  }
}

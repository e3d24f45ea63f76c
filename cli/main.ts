import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError } from 'commander';
import { processIo, type CliIo } from './io.js';

const VERSION = '0.1.0';

/** Adds one command (or command group) to `parent`: what every `cli/<name>.ts` module exports. */
type Register = (parent: Command, io: CliIo) => void;

/**
 * Every command, by its path, and how to load the module that registers it. A command's module (and so
 * everything it imports: the CA, the ledger, SQLite, Kubernetes clients ...) is imported only when that
 * command runs, or when help is asked for the level it is on: `castellan --version` and `castellan
 * agent` load only what they need. A new command is one line here, in the order `--help` lists it.
 */
const COMMANDS: readonly (readonly [path: string, load: () => Promise<Register>])[] = [
  ['ca init', () => import('./ca-init.js').then((m) => m.registerCaInit)],
  ['ca mint', () => import('./ca-mint.js').then((m) => m.registerCaMint)],
  ['ca serve', () => import('./ca-serve.js').then((m) => m.registerCaServe)],
  ['cert inspect', () => import('./cert-inspect.js').then((m) => m.registerCertInspect)],
  ['cert request', () => import('./cert-request.js').then((m) => m.registerCertRequest)],
  ['agent', () => import('./agent.js').then((m) => m.registerAgent)],
  ['root', () => import('./root.js').then((m) => m.registerRoot)],
  ['check', () => import('./check.js').then((m) => m.registerCheck)],
  ['audit', () => import('./audit.js').then((m) => m.registerAudit)],
  ['token', () => import('./token-mint.js').then((m) => m.registerTokenMint)],
  ['dev', () => import('./dev.js').then((m) => m.registerDev)],
];

/** Command groups whose subcommands live in separate modules. */
const GROUPS: Readonly<Record<string, string>> = {
  ca: 'operate a certificate authority: create it, issue certificates',
  cert: 'look at certificates',
};

/**
 * The commands `argv` needs: the one it names (`agent`, `ca serve`), or, when it names none or one that
 * does not exist (help, a typo), every command of the level it reached, so that help and suggestions
 * are complete.
 */
function commandsFor(argv: readonly string[]): readonly (typeof COMMANDS)[number][] {
  const words = argv.filter((a) => !a.startsWith('-'));
  const [first, second] = words;
  const exact = COMMANDS.filter(([p]) => p === first || p === `${first} ${second}`);
  if (exact.length === 1) return exact;
  if (first !== undefined && GROUPS[first] !== undefined) return COMMANDS.filter(([p]) => p.startsWith(`${first} `));
  return COMMANDS;
}

/**
 * An agent runs beside every pod (or on every node) and holds little: V8's young generation, which
 * otherwise grows to 2 x 16 MiB while the agent loads its modules and protos and never shrinks back,
 * stays at its initial size (measured: ~30 MiB less resident memory, docs/benchmarks.md). Set before
 * the agent's modules load; `NODE_OPTIONS=--max-semi-space-size=...` or CASTELLAN_AGENT_V8_FLAGS (any
 * V8 flags, empty for none) overrides it.
 */
function leanYoungGeneration(env: CliIo['env']): void {
  if (/semi-space/.test(env.NODE_OPTIONS ?? '')) return;
  const flags = env.CASTELLAN_AGENT_V8_FLAGS ?? '--semi-space-growth-factor=1';
  if (flags.trim() !== '') setFlagsFromString(flags);
}

/** Builds the `castellan` command tree writing to `io`, with the commands `argv` needs (all by default). */
export async function buildProgram(io: CliIo, argv?: readonly string[]): Promise<Command> {
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
  // `--version` (and `-V`) needs no command at all.
  const wanted = argv !== undefined && (argv.includes('-V') || argv.includes('--version')) && argv.filter((a) => !a.startsWith('-')).length === 0 ? [] : commandsFor(argv ?? []);
  const registers = await Promise.all(wanted.map(([p, load]) => load().then((register) => [p, register] as const)));
  const groups = new Map<string, Command>();
  for (const [p, register] of registers) {
    const group = p.includes(' ') ? p.slice(0, p.indexOf(' ')) : undefined;
    let parent = program;
    if (group !== undefined) {
      if (!groups.has(group)) groups.set(group, program.command(group).description(GROUPS[group]!));
      parent = groups.get(group)!;
    }
    register(parent, io);
  }

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
  // Only for the process's own agent (a V8 flag is process-wide; in-process callers keep their heap).
  if (io.env === process.env && commandsFor(argv).length === 1 && commandsFor(argv)[0]![0] === 'agent') leanYoungGeneration(io.env);
  const program = await buildProgram(io, argv);
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // help and version are not failures; other usage errors commander printed already
    if (err instanceof CommanderError) return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code) ? 0 : 2;
    const { exitFor } = await import('./exit-codes.js');
    const { code, line } = exitFor(err);
    if (line !== undefined) io.err(`castellan: ${line}\n`);
    if (io.env.CASTELLAN_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return code;
  } finally {
    // A command that opened an HSM token logs out of it (docs/pkcs11.md). The agent never opens CA
    // keys, and the CA module is not loaded for it (nor for --version).
    if (program.commands.length > 0 && !(program.commands.length === 1 && program.commands[0]!.name() === 'agent')) {
      await import('../ca/index.js').then((ca) => ca.closeKeyProviders()).catch(() => {});
    }
  }
}

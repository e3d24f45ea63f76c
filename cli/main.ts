import { Command, CommanderError } from 'commander';
import { setAgentLoadV8Flags } from './agent-v8.js';
import { processIo, type CliIo } from './io.js';

const VERSION = '0.1.0';

/** Adds one command (or command group) to `parent`: what every `cli/<name>.ts` module exports. */
type Register = (parent: Command, io: CliIo) => void;

interface CommandEntry {
  /** The words that name it on the command line: `ca init`, `agent status`. */
  readonly words: string;
  readonly load: () => Promise<Register>;
  /** A command group (`ca`, `cert`) the command is registered under; absent: the top level. */
  readonly group?: string;
  /** Other entries that must be registered first (`agent status` hangs under `agent`). */
  readonly after?: readonly string[];
  /** Needs the whole tree when it runs (`completion` reads every command and option). */
  readonly everything?: boolean;
}

/**
 * Every command, by the words that name it, and how to load the module that registers it. A command's
 * module (and so everything it imports: the CA, the ledger, SQLite, Kubernetes clients ...) is imported
 * only when that command runs, or when help is asked for the level it is on: `castellan --version` and
 * `castellan agent` load only what they need. A new command is one entry here, in the order `--help`
 * lists it.
 */
const COMMANDS: readonly CommandEntry[] = [
  { words: 'ca init', group: 'ca', load: () => import('./ca-init.js').then((m) => m.registerCaInit) },
  { words: 'ca mint', group: 'ca', load: () => import('./ca-mint.js').then((m) => m.registerCaMint) },
  { words: 'ca serve', group: 'ca', load: () => import('./ca-serve.js').then((m) => m.registerCaServe) },
  { words: 'cert inspect', group: 'cert', load: () => import('./cert-inspect.js').then((m) => m.registerCertInspect) },
  { words: 'cert request', group: 'cert', load: () => import('./cert-request.js').then((m) => m.registerCertRequest) },
  { words: 'agent', load: () => import('./agent.js').then((m) => m.registerAgent) },
  { words: 'agent status', after: ['agent'], load: () => import('./agent-status.js').then((m) => m.registerAgentStatus) },
  { words: 'root', load: () => import('./root.js').then((m) => m.registerRoot) },
  { words: 'check', load: () => import('./check.js').then((m) => m.registerCheck) },
  { words: 'audit', load: () => import('./audit.js').then((m) => m.registerAudit) },
  { words: 'token', load: () => import('./token-mint.js').then((m) => m.registerTokenMint) },
  { words: 'bundle', load: () => import('./bundle.js').then((m) => m.registerBundle) },
  { words: 'federation', load: () => import('./bundle.js').then((m) => m.registerFederation) },
  { words: 'dev', load: () => import('./dev.js').then((m) => m.registerDev) },
  { words: 'version', load: () => import('./version.js').then((m) => m.registerVersion) },
  { words: 'config', load: () => import('./config-validate.js').then((m) => m.registerConfig) },
  { words: 'completion', everything: true, load: () => import('./completion.js').then((m) => m.registerCompletion) },
];

/** Command groups whose subcommands live in separate modules. */
const GROUPS: Readonly<Record<string, string>> = {
  ca: 'operate a certificate authority: create it, issue certificates',
  cert: 'look at certificates',
};

/**
 * The commands `argv` needs: the one it names (`agent`, `ca serve`, with what it hangs under), or, when
 * it names none or one that does not exist (help, a typo), every command of the level it reached, so
 * that help and suggestions are complete.
 */
function commandsFor(argv: readonly string[]): readonly CommandEntry[] {
  const words = argv.filter((a) => !a.startsWith('-'));
  const [first, second] = words;
  const two = `${first} ${second}`;
  // The most specific entry: `agent status` over `agent`.
  const named = COMMANDS.find((c) => c.words === two) ?? COMMANDS.find((c) => c.words === first);
  if (named?.everything) return COMMANDS;
  if (named) return COMMANDS.filter((c) => c === named || named.after?.includes(c.words));
  if (first !== undefined && GROUPS[first] !== undefined) return COMMANDS.filter((c) => c.group === first);
  return COMMANDS;
}

/** Whether the command line asks for JSON output (errors are then one JSON line, cli/exit-codes.ts). */
function wantsJson(argv: readonly string[]): boolean {
  return argv.some((a, i) => a === '--output=json' || (a === '--output' && argv[i + 1] === 'json'));
}

/** Builds the `castellan` command tree writing to `io`, with the commands `argv` needs (all by default). */
export async function buildProgram(io: CliIo, argv?: readonly string[], o: { jsonErrors?: boolean } = {}): Promise<Command> {
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
  // `--version` (and `-V`) needs no command at all.
  const versionOnly = argv !== undefined && (argv.includes('-V') || argv.includes('--version')) && argv.filter((a) => !a.startsWith('-')).length === 0;
  const wanted = versionOnly ? [] : commandsFor(argv ?? []);
  // @peculiar/x509 (certificates read by ca and cert commands) needs this polyfill loaded before it; the
  // agent never loads that library and holds less without the polyfill.
  if (!wanted.every((c) => c.words === 'agent')) await import('reflect-metadata');
  const registers = await Promise.all(wanted.map((c) => c.load().then((register) => [c, register] as const)));
  const groups = new Map<string, Command>();
  for (const [c, register] of registers) {
    let parent = program;
    if (c.group !== undefined) {
      if (!groups.has(c.group)) groups.set(c.group, program.command(c.group).description(GROUPS[c.group]!));
      parent = groups.get(c.group)!;
    }
    register(parent, io);
  }

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
  const wanted = commandsFor(argv);
  const failed = async (err: unknown): Promise<number> => {
    // Loaded only on a failure: `--version` and a working command never need it.
    const { exitFor, reportFailure } = await import('./exit-codes.js');
    const failure = exitFor(err);
    reportFailure(failure, io, json);
    if (io.env.CASTELLAN_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return failure.code;
  };
  // Only for the process's own agent (a V8 flag is process-wide; in-process callers keep their heap).
  if (io.env === process.env && wanted.length === 1 && wanted[0]!.words === 'agent') {
    try {
      setAgentLoadV8Flags(io.env);
    } catch (err) {
      return failed(err);
    }
  }
  const program = await buildProgram(io, argv, { jsonErrors: json });
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // Help and version are not failures (commander printed them); nothing more to load for them.
    if (err instanceof CommanderError && ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)) return 0;
    return failed(err);
  } finally {
    // A command that opened an HSM token logs out of it (docs/pkcs11.md). The agent never opens CA
    // keys, and the CA module is not loaded for it (nor for --version).
    if (program.commands.length > 0 && !(program.commands.length === 1 && program.commands[0]!.name() === 'agent')) {
      await import('../ca/index.js').then((ca) => ca.closeKeyProviders()).catch(() => {});
    }
  }
}

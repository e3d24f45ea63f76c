import path from 'node:path';
import type { Command } from 'commander';
import { caServerConfigSchema, loadCaServerConfig, missingAuthenticator } from '../ca/index.js';
import { AGENT_CONFIG_KEYS } from '../sds/index.js';
import { isCastellanError, readConfigFile, type ConfigFileStage } from '../workload-identity/index.js';
import { agentConfigFrom } from './agent.js';
import { ReportedResult, EXIT } from './exit-codes.js';
import { choiceFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

type Kind = 'ca' | 'agent';

interface ValidateFlags {
  kind?: Kind;
  output: 'text' | 'json';
}

/** What `config validate --output json` prints. */
interface Validation {
  file: string;
  /** null: the file does not parse and no --kind said which it is. */
  kind: Kind | null;
  ok: boolean;
  problems: string[];
}

const keysOf = (schema: unknown) => Object.keys((schema as { shape?: Record<string, unknown> }).shape ?? {});

/** Which configuration a parsed file is, by its top-level keys; undefined when it cannot tell. */
function guessKind(raw: Record<string, unknown>): Kind | undefined {
  const keys = Object.keys(raw);
  const ca = new Set(keysOf(caServerConfigSchema));
  const agent = new Set<string>(AGENT_CONFIG_KEYS);
  const caOnly = keys.filter((k) => ca.has(k) && !agent.has(k)).length;
  const agentOnly = keys.filter((k) => agent.has(k) && !ca.has(k)).length;
  return caOnly > agentOnly ? 'ca' : agentOnly > caOnly ? 'agent' : undefined;
}

/** The problems a loader's ERR_CONFIG message lists (one per indented line), or the message itself. */
function problemsOf(message: string): string[] {
  const lines = message
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter(Boolean);
  // The agent's merged-config errors come as one line ("...: 2 problems: a: x; b: y").
  if (lines.length === 0 && /\d+ problems?: /.test(message)) return message.replace(/^.*?\d+ problems?: /, '').split('; ');
  return lines.length > 0 ? lines : [message];
}

/**
 * Checks a configuration file with the loader the CA or the agent itself uses (and what they check at
 * start, such as the CA's refusal to run without a token authenticator), listing every problem.
 */
async function validate(file: string, kind: Kind | undefined, io: CliIo): Promise<Validation> {
  const full = path.resolve(io.cwd, file);
  const cannotTell = () => new UsageError(`${file}: cannot tell whether it configures the CA or the agent; give --kind ca or --kind agent`);
  let raw: Record<string, unknown>;
  try {
    raw = await readConfigFile(full);
  } catch (err) {
    if (!isCastellanError(err, 'ERR_CONFIG')) throw err;
    const stage = err.context.stage as ConfigFileStage;
    // No file to check is wrong usage (exit 2); a file that does not parse is an invalid configuration (exit 1).
    if (stage === 'read') throw new UsageError(`cannot read ${file}: ${String(err.context.errno)}`);
    if (stage === 'shape' && kind === undefined) throw cannotTell();
    return { file: full, kind: kind ?? null, ok: false, problems: [err.message.replace(/^config: /, '')] };
  }
  const k = kind ?? guessKind(raw);
  if (!k) throw cannotTell();
  try {
    if (k === 'ca') {
      // What `ca serve --config` refuses at start (fail closed), said here too.
      const missing = missingAuthenticator(await loadCaServerConfig(full));
      if (missing) return { file: full, kind: k, ok: false, problems: [`authentication: ${missing}`] };
    } else {
      // The agent's own merge: this file under the CASTELLAN_* variables of this environment.
      await agentConfigFrom({ config: full }, io);
    }
    return { file: full, kind: k, ok: true, problems: [] };
  } catch (err) {
    if (!(err instanceof UsageError) && !isCastellanError(err, 'ERR_CONFIG')) throw err;
    return { file: full, kind: k, ok: false, problems: problemsOf((err as Error).message) };
  }
}

/** `castellan config validate FILE`: exit 0 valid, 1 invalid (every problem listed), 2 wrong usage. */
export function registerConfig(program: Command, io: CliIo): void {
  const config = program.command('config').description('check configuration files before a CA or an agent runs with them');
  config
    .command('validate')
    .description("check a CA or agent configuration file with the CA's or the agent's own loader; list every problem")
    .argument('<file>', 'the YAML or JSON file')
    .option('--kind <kind>', 'ca or agent (default: told by its keys)', choiceFlag(['ca', 'agent'] as const))
    .option('--output <format>', 'text or json ({file, kind, ok, problems})', choiceFlag(['text', 'json'] as const), 'text')
    .addHelpText(
      'after',
      "\nAn agent file is checked as `castellan agent --config FILE` would see it here: merged under this environment's\n" +
        'CASTELLAN_* variables, so required fields given by flags at run time are reported missing.\n' +
        'Exit codes: 0 valid, 1 invalid (every problem is listed), 2 wrong usage (no such file, kind unknown).',
    )
    .action(async (file: string, f: ValidateFlags) => {
      const v = await validate(file, f.kind, io);
      if (f.output === 'json') io.out(`${JSON.stringify(v, null, 2)}\n`);
      else {
        const what = v.kind === null ? 'configuration' : `${v.kind === 'ca' ? 'CA' : 'agent'} configuration`;
        if (v.ok) io.out(`${v.file}: a valid ${what}\n`);
        else io.out(`${v.file}: ${v.problems.length} problem${v.problems.length === 1 ? '' : 's'} (${what}):\n${v.problems.map((p) => `  ${p}\n`).join('')}`);
      }
      if (!v.ok) throw new ReportedResult(EXIT.FAILURE);
    });
}

import { promises as fs } from 'node:fs';
import type { parseDocument as ParseDocument, YAMLError } from 'yaml';
import { CastellanError } from './errors.js';

/**
 * The one reader of configuration files, shared by the CA (`ca serve --config`) and the agent
 * (`agent --config`): read the file, parse it as YAML 1.2 (so JSON too), and hand back its top-level
 * mapping. Each caller then checks the mapping against its own schema (docs/architecture.md §10).
 */

/** Code of every configuration-file failure: the operator has to fix the file (CLI exit 1). */
export type ConfigFileErrorCode = 'ERR_CONFIG';

/** Which step failed, in the error's `context.stage` (with `context.file`, and `line`/`column` when the parser knows them). */
export type ConfigFileStage = 'read' | 'parse' | 'shape';

let yaml: Promise<typeof ParseDocument> | undefined;

/**
 * The YAML parser, loaded on first use: an agent configured by flags alone never holds it (docs/agent.md,
 * "Memory"). A failure to load it is its own error, never reported as a fault of the file.
 */
const yamlParser = () => (yaml ??= import('yaml').then((m) => m.parseDocument));

function parseWith(parseDocument: typeof ParseDocument, text: string): unknown {
  const doc = parseDocument(text, { logLevel: 'silent' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new Error(problem.message, { cause: problem });
  return doc.toJS();
}

/**
 * The values of a configuration file's text (YAML 1.2, so JSON too). Throws an Error naming the first
 * problem when the text is not valid YAML, and also when the parser would only warn (an unknown tag such
 * as `!!float 24h`, an ambiguous alias): the file is then not read half-way with a warning on stderr,
 * but refused like any other bad input (docs/architecture.md §10). Alias bombs throw too. The error's
 * `cause` is the parser's YAMLError when there is one (its `linePos` says where).
 *
 * @example await parseConfigText('ttl: 1h') // { ttl: '1h' }
 */
export async function parseConfigText(text: string): Promise<unknown> {
  return parseWith(await yamlParser(), text);
}

/**
 * Reads a YAML or JSON configuration file into its top-level mapping; an empty file (or one holding only
 * comments or `null`) is `{}`. Every failure is one ERR_CONFIG error whose message names the file, and
 * the line and column when the text is at fault:
 * - `config: cannot read /etc/castellan/ca.yaml: ENOENT`
 * - `config: /etc/castellan/ca.yaml:2:1: not valid YAML/JSON: Flow sequence ... must ... end with a ]`
 * - `config: /etc/castellan/ca.yaml: want a mapping of keys at the top level, found a list`
 *
 * @example const raw = await readConfigFile('/etc/castellan/ca.yaml'); // { listen: '0.0.0.0:15012', ... }
 */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw configFileError(`config: cannot read ${file}: ${errno}`, { file, stage: 'read', errno }, cause);
  }
  const parseDocument = await yamlParser();
  let raw: unknown;
  try {
    raw = parseWith(parseDocument, text);
  } catch (cause) {
    const at = ((cause as Error).cause as YAMLError | undefined)?.linePos?.[0];
    const where = at ? `${file}:${at.line}:${at.col}` : file;
    // The parser's first line, without its own " at line L, column C:" (said in front, as file:line:column).
    const what = (cause as Error).message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw configFileError(`config: ${where}: not valid YAML/JSON: ${what}`, { file, stage: 'parse', ...(at ? { line: at.line, column: at.col } : {}) }, cause);
  }
  raw ??= {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const found = Array.isArray(raw) ? 'a list' : `a ${typeof raw} (${JSON.stringify(raw)})`;
    throw configFileError(`config: ${file}: want a mapping of keys at the top level, found ${found}`, { file, stage: 'shape' });
  }
  return raw as Record<string, unknown>;
}

function configFileError(message: string, context: { file: string; stage: ConfigFileStage } & Record<string, unknown>, cause?: unknown): CastellanError<ConfigFileErrorCode> {
  return new CastellanError('ERR_CONFIG', message, { context, ...(cause !== undefined ? { cause } : {}) });
}

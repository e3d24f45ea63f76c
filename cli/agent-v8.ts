import { setFlagsFromString } from 'node:v8';
import { UsageError, type CliIo } from './io.js';

/**
 * The V8 flags of `castellan agent` (docs/agent.md; measured in docs/benchmarks.md). An agent runs beside
 * every pod (sidecar mode) or on every node, idle most of its life: it trades JavaScript speed it does not
 * use for memory it would hold as long as it lives.
 * - The young generation stays at its initial size (`--semi-space-growth-factor=1`): otherwise it grows to
 *   2 x 16 MiB while the agent loads its modules and protos and never shrinks back.
 * - No compilers (neither the optimizing TurboFan nor the baseline Sparkplug; the interpreter runs
 *   everything) while the agent loads, and in sidecar mode ever: loading ~600 modules makes the loader's
 *   own functions hot enough to be compiled, and TurboFan's code pages, zones and optimized code then stay
 *   resident (~9 MiB; Sparkplug's code ~1.4 MiB more). A sidecar serves one pod's few SDS streams and
 *   renews every few hours; node mode, which may serve thousands of streams, gets both back before it
 *   starts (setAgentRunV8Flags).
 * - In sidecar mode, bytecode no call has used since the last full GC is dropped (`--bytecode-old-age=1`,
 *   set once the mode is known; V8's default waits for several full GCs): the functions that only ran
 *   while the agent loaded and started give their bytecode back once the agent is idle (~1 MiB), and
 *   one called again is compiled again. Node mode keeps V8's default.
 * CASTELLAN_AGENT_V8_FLAGS (V8 flags `--name` or `--name=value`, empty for none) replaces all of these in
 * either mode, node mode's compilers included; a node option (NODE_OPTIONS or the command line) that sets
 * a semi-space size, or the bytecode's flushing, keeps that part its own way, and one that names a
 * compiler decides about both.
 */
const LEAN_YOUNG_GENERATION = '--semi-space-growth-factor=1';

const EARLY_BYTECODE_FLUSH = '--bytecode-old-age=1';

/** The node options this process started with: NODE_OPTIONS and the flags before the script. */
const nodeOptionsOf = (env: CliIo['env'], execArgv: readonly string[]) => `${execArgv.join(' ')} ${env.NODE_OPTIONS ?? ''}`;

const NO_COMPILERS = ['--no-turbofan', '--no-sparkplug'];

/** Whether the node options already decide about the compilers (`--turbofan`, `--no-opt`, `--jitless`, `--no_sparkplug` ...): naming one decides both. */
const decideCompilers = (options: string) => /(^|\s)--((no[-_])?(turbofan|opt|sparkplug)|jitless)\b/.test(options);

/** One V8 flag as the variable may hold it; `--help` and `--version` would print and end the process. */
const V8_FLAG = /^--[a-z][a-z0-9_-]*(=\S+)?$/i;

/**
 * The flags set before the agent's modules load (cli/main.ts), for the agent's own process only, one per
 * element. Throws a UsageError (exit 2) for a CASTELLAN_AGENT_V8_FLAGS that is not a list of V8 flags.
 */
export function agentLoadV8Flags(env: CliIo['env'], execArgv: readonly string[] = process.execArgv): string[] {
  const explicit = env.CASTELLAN_AGENT_V8_FLAGS;
  if (explicit !== undefined) {
    const flags = explicit.split(/\s+/).filter(Boolean);
    for (const f of flags) {
      if (!V8_FLAG.test(f) || /^--(help|version)$/i.test(f)) {
        throw new UsageError(`CASTELLAN_AGENT_V8_FLAGS: ${JSON.stringify(f)} is not a V8 flag to set (want --name or --name=value, separated by spaces; empty for none)`);
      }
    }
    return flags;
  }
  const options = nodeOptionsOf(env, execArgv);
  return [...(/semi-space/.test(options) ? [] : [LEAN_YOUNG_GENERATION]), ...(decideCompilers(options) ? [] : NO_COMPILERS)];
}

/**
 * Sets the load-time flags. Process-wide: only for the process's own agent, never for an in-process caller.
 *
 * @example if (io.env === process.env) setAgentLoadV8Flags(io.env);
 */
export function setAgentLoadV8Flags(env: CliIo['env']): void {
  // One flag at a time: V8 ignores everything after a flag it does not know.
  for (const flag of agentLoadV8Flags(env)) setFlagsFromString(flag);
}

/**
 * Once the mode is known, before the agent starts: node mode gets back the compilers the default
 * load-time flags took away; sidecar mode flushes bytecode early (unless a node option sets the
 * bytecode's age or flushing). An explicit CASTELLAN_AGENT_V8_FLAGS is final. Returns the flags it set
 * ('' for none).
 *
 * @example setAgentRunV8Flags(config.mode, io.env);
 */
export function setAgentRunV8Flags(mode: 'sidecar' | 'node', env: CliIo['env'], execArgv: readonly string[] = process.execArgv): string {
  if (env.CASTELLAN_AGENT_V8_FLAGS !== undefined) return '';
  const flags =
    mode === 'node'
      ? ['turbofan', 'sparkplug'].filter((c) => agentLoadV8Flags(env, execArgv).includes(`--no-${c}`)).map((c) => `--${c}`)
      : /bytecode|flush/.test(nodeOptionsOf(env, execArgv))
        ? []
        : [EARLY_BYTECODE_FLUSH];
  // One flag at a time (setAgentLoadV8Flags).
  for (const flag of flags) setFlagsFromString(flag);
  return flags.join(' ');
}

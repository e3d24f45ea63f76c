import { setFlagsFromString } from 'node:v8';
import type { CliIo } from './io.js';

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
 * CASTELLAN_AGENT_V8_FLAGS (any V8 flags, empty for none) replaces all of these; a NODE_OPTIONS that sets a
 * semi-space size or names a compiler keeps that part its own way.
 */
const LEAN_YOUNG_GENERATION = '--semi-space-growth-factor=1';
const NO_COMPILERS = '--no-turbofan --no-sparkplug';

/** Whether NODE_OPTIONS already decides about the compilers (`--turbofan`, `--no-opt`, `--sparkplug` ...). */
const nodeOptionsDecideCompilers = (env: CliIo['env']) => /(^|\s)--(no-)?(turbofan|opt|sparkplug)\b/.test(env.NODE_OPTIONS ?? '');

/** The flags set before the agent's modules load (cli/main.ts), for the agent's own process only. */
export function agentLoadV8Flags(env: CliIo['env']): string {
  if (env.CASTELLAN_AGENT_V8_FLAGS !== undefined) return env.CASTELLAN_AGENT_V8_FLAGS.trim();
  return [/semi-space/.test(env.NODE_OPTIONS ?? '') ? '' : LEAN_YOUNG_GENERATION, nodeOptionsDecideCompilers(env) ? '' : NO_COMPILERS].filter(Boolean).join(' ');
}

/**
 * Sets the load-time flags. Process-wide: only for the process's own agent, never for an in-process caller.
 *
 * @example if (io.env === process.env) setAgentLoadV8Flags(io.env);
 */
export function setAgentLoadV8Flags(env: CliIo['env']): void {
  const flags = agentLoadV8Flags(env);
  if (flags !== '') setFlagsFromString(flags);
}

/**
 * Once the mode is known, before the agent starts: node mode gets back the compilers the load-time flags
 * took away. Returns the flags it set ('' for none).
 *
 * @example setAgentRunV8Flags(config.mode, io.env);
 */
export function setAgentRunV8Flags(mode: 'sidecar' | 'node', env: CliIo['env']): string {
  if (mode !== 'node') return '';
  const load = agentLoadV8Flags(env).split(/\s+/);
  const back = ['turbofan', 'sparkplug']
    .filter((c) => load.includes(`--no-${c}`))
    .map((c) => `--${c}`)
    .join(' ');
  if (back !== '') setFlagsFromString(back);
  return back;
}

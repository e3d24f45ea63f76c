import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { formatDuration } from '../ca/index.js';
import { DEFAULT_SOCKET, fetchAgentStatus, type AgentStatusReport } from '../sds/index.js';
import { choiceFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

interface StatusFlags {
  socket?: string;
  tokenFile?: string;
  output: 'text' | 'json';
}

/** The report for people: the agent, its trust bundle, then one line per identity (like `istioctl proxy-config secret`). */
export function formatAgentStatus(s: AgentStatusReport, now: Date): string {
  const a = s.agent;
  const left = (iso: string) => {
    const ms = Date.parse(iso) - now.getTime();
    return ms <= 0 ? 'EXPIRED' : `in ${formatDuration(Math.floor(ms / 1000) * 1000)}`;
  };
  const lines = [`agent ${a.agentId} (${a.mode} mode, version ${a.version}, commit ${a.commit}), CA ${a.ca}: ${a.ready ? 'ready' : `NOT READY: ${a.notReady}`}`];
  for (const n of a.notes) lines.push(`  warning: ${n}`);
  lines.push('');
  if (!s.bundle) lines.push('trust bundle: none yet (the agent has not heard from the CA)');
  else {
    lines.push(`trust bundle: ${s.bundle.trustDomain}, sequence ${s.bundle.sequence}, ${s.bundle.roots.length} root${s.bundle.roots.length === 1 ? '' : 's'}`);
    for (const r of s.bundle.roots) lines.push(`  ROOT  ${r.subject}  serial ${r.serial}  expires ${r.notAfter} (${left(r.notAfter)})`);
  }
  lines.push('');
  if (s.identities.length > 0) {
    const rows = [['IDENTITY', 'SERIAL', 'NOT AFTER', 'LEFT', 'ISSUER']];
    for (const i of s.identities) rows.push([i.spiffeId, i.serial, i.notAfter, left(i.notAfter), i.chain[0]?.issuer ?? '']);
    const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const r of rows) lines.push(r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(w[c]!))).join('  '));
  } else if (s.shown === 'none') {
    lines.push(`node mode: the agent holds ${s.held ?? 0} identit${s.held === 1 ? 'y' : 'ies'}; give --token-file (a pod's service-account token) to see the one it stands for`);
  } else if (s.shown === 'token') {
    lines.push(
      `node mode: the agent holds no certificate for this token (of ${s.held ?? 0} identit${s.held === 1 ? 'y' : 'ies'} it holds); a workload gets one when it opens its first SDS or Workload API stream with it`,
    );
  } else {
    lines.push('no certificate yet');
  }
  return `${lines.join('\n')}\n`;
}

/** `castellan agent status`: what an agent holds now, from its socket (docs/agent.md). Call after registerAgent. */
export function registerAgentStatus(program: Command, io: CliIo): void {
  const agent = program.commands.find((c) => c.name() === 'agent');
  if (!agent) throw new TypeError('registerAgentStatus: register the agent command first');
  // `agent` and `agent status` share --socket and --token-file: options after `status` must be its own,
  // which commander does only with positional options on every command above it.
  program.enablePositionalOptions();
  agent.enablePositionalOptions();
  agent
    .command('status')
    .description('what a running agent holds now: its trust bundle (sequence, roots) and the certificates it serves (SPIFFE ID, serial, not-after); never a key')
    .option('--socket <path>', `the agent's workload socket (env CASTELLAN_SOCKET; default ${DEFAULT_SOCKET})`)
    .option('--token-file <file>', "node mode: a pod's service-account token; shows the identity it stands for, if the agent holds it")
    .option('--output <format>', 'text or json', choiceFlag(['text', 'json'] as const), 'text')
    .addHelpText(
      'after',
      '\nAsks the agent over its Unix socket (castellan.agent.v1.AgentStatus, read-only: nothing is issued, no CA is\n' +
        "asked). Sidecar mode shows the pod's identity. Node mode serves every pod of the node on one socket, so it\n" +
        "shows only the identity the --token-file token already holds there (what that pod's Envoy gets anyway);\n" +
        'without a token, only how many identities it holds. Exit codes: 0 answered, 1 no agent on the socket, 2 wrong usage.',
    )
    .action(async (f: StatusFlags) => {
      const socket = path.resolve(io.cwd, f.socket ?? io.env.CASTELLAN_SOCKET ?? DEFAULT_SOCKET);
      let token: string | undefined;
      if (f.tokenFile !== undefined) {
        try {
          token = (await fs.readFile(path.resolve(io.cwd, f.tokenFile), 'utf8')).trim();
        } catch (cause) {
          throw new UsageError(`--token-file ${f.tokenFile}: cannot read it (${(cause as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      const s = await fetchAgentStatus(socket, token !== undefined ? { token } : {});
      io.out(f.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatAgentStatus(s, io.now()));
    });
}

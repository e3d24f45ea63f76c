import type { Command } from 'commander';
import type { CaHealth } from '../ca/index.js';
import { buildInfo, type BuildInfo } from '../workload-identity/index.js';
import { adminClient, healthOf, withAdminFlags, type AdminFlags } from './admin-client.js';
import { choiceFlag } from './flags.js';
import type { CliIo } from './io.js';

interface VersionFlags extends AdminFlags {
  output: 'text' | 'json';
}

const line = (b: BuildInfo) => `castellan ${b.version} (commit ${b.commit}, Node.js ${b.nodeVersion})`;

/** `castellan version`: this client's build, and with --server the running CA's (RootAdmin GetHealth). */
export function registerVersion(program: Command, io: CliIo): void {
  withAdminFlags(program.command('version').description("this castellan's version and git commit, and with --server those of a running CA"), 'also ask this running CA')
    .option('--output <format>', 'text or json ({client: {version, commit, nodeVersion}, server?: {..., replica, leader}})', choiceFlag(['text', 'json'] as const), 'text')
    .addHelpText(
      'after',
      '\nThe commit is "unknown" (and the version package.json\'s) when the build was not made from a git checkout.\n`castellan --version` prints the version alone.',
    )
    .action(async (f: VersionFlags) => {
      const client = buildInfo();
      let server: CaHealth['server'] | undefined;
      if (f.server !== undefined) {
        const call = await adminClient(f, io, { timeoutMs: 15_000 });
        server = healthOf(await call('GetHealth', {})).server;
      }
      if (f.output === 'json') {
        io.out(`${JSON.stringify({ client, ...(server ? { server } : {}) }, null, 2)}\n`);
        return;
      }
      io.out(`client  ${line(client)}\n`);
      if (server) io.out(`server  ${line(server)} at ${f.server}, replica ${server.replica}${server.leader ? ' (leader)' : ''}\n`);
    });
}

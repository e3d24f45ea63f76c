import type { Command } from 'commander';
import type { CliIo } from './io.js';

/** `castellan agent` (issue #4: being built). */
export function registerAgent(program: Command, _io: CliIo): void {
  program.command('agent').description('(not built yet) the workload agent: Envoy SDS and the SPIFFE Workload API').action(() => {
    throw new Error('castellan agent is not built yet');
  });
}

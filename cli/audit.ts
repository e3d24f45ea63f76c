import type { Command } from 'commander';
import type { CliIo } from './io.js';

/** `castellan audit` (issue #5: being built). */
export function registerAudit(program: Command, _io: CliIo): void {
  program.command('audit').description('(not built yet) query and verify the issuance ledger').action(() => {
    throw new Error('castellan audit is not built yet');
  });
}

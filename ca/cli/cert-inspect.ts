import type { Command } from 'commander';
import type { CliIo } from './io.js';

export function registerCertInspect(cert: Command, io: CliIo): void {
  void cert;
  void io;
}

// `castellan` from the sources in a process of its own, for tests that kill it (failpoints):
//   node --import tsx test/helpers/cli-process.ts <castellan arguments...>
import 'reflect-metadata';
import { run } from '../../cli/main.js';

process.exitCode = await run(process.argv.slice(2));

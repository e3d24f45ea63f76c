// A CA server in a process of its own, for tests that kill it (SIGKILL) or run several replicas:
//   node --import tsx test/helpers/ca-process.ts '<json {dir, config}>'
// Trusts the CA directory's dev token issuer, prints {"grpcPort":N} on stdout once serving, logs to
// stderr, and on SIGTERM shuts down gracefully (flushing the ledger) and exits 0.
import 'reflect-metadata';
import { pino } from 'pino';
import { startCaServer, type CaServerConfig } from '../../ca/index.js';

const { dir, config } = JSON.parse(process.argv[2]!) as { dir: string; config: CaServerConfig };
const log = pino({ level: 'warn' }, pino.destination(2));
const { server } = await startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', ...config }, devIssuer: true, log });
process.stdout.write(`${JSON.stringify({ grpcPort: server.grpcPort })}\n`);
process.on('SIGTERM', () => {
  server.shutdown(2000).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

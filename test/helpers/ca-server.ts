import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { startCaServer, type CaServerConfig, type CaServer } from '../../ca/index.js';

/** A logger that keeps every line in memory, so tests can assert what reached the log. */
export function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

/** Starts a CA server on free loopback ports. */
export async function testCaServer(dir: string, config: CaServerConfig = {}, devIssuer = false): Promise<{ server: CaServer; address: string; lines: string[] }> {
  const { log, lines } = memoryLog();
  const { server } = await startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', ...config }, devIssuer, log });
  return { server, address: `127.0.0.1:${server.grpcPort}`, lines };
}

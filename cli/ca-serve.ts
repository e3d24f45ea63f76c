import path from 'node:path';
import type { Command } from 'commander';
import { CA_CONFIG_DEFAULTS, loadCaServerConfig, startCaServer, validateCaServerConfig, type CaServerConfig } from '../ca/index.js';
import { UsageError, type CliIo } from './io.js';
import { createLogger } from './logger.js';
import { ledgerDatabaseUrl } from './database-url.js';

interface ServeFlags {
  dir?: string;
  config?: string;
  listen?: string;
  http?: string;
  databaseUrl?: string;
}

export function registerCaServe(ca: Command, io: CliIo): void {
  ca.command('serve')
    .description('run the CA server: Istio CreateCertificate and the Castellan API over gRPC/TLS, /healthz /readyz /metrics over HTTP')
    .option('--dir <dir>', 'CA directory (env CASTELLAN_DIR); not with store.kubernetes in the config', io.env.CASTELLAN_DIR)
    .option('--config <file>', 'YAML/JSON configuration (env CASTELLAN_CONFIG); without one the CA trusts its local dev token issuer', io.env.CASTELLAN_CONFIG)
    .option('--listen <host:port>', `gRPC address (env CASTELLAN_LISTEN; default ${CA_CONFIG_DEFAULTS.listen})`, io.env.CASTELLAN_LISTEN)
    .option('--http <host:port>', `health/metrics address (env CASTELLAN_HTTP; default ${CA_CONFIG_DEFAULTS.http})`, io.env.CASTELLAN_HTTP)
    .option('--database-url <url>', 'PostgreSQL ledger shared by CA replicas (env CASTELLAN_DATABASE_URL; default: SQLite <dir>/ledger.db)')
    .addHelpText(
      'after',
      '\nWhere the CA state lives: the directory --dir, or Kubernetes (config store.kubernetes: keys and state in\n' +
        'a Secret, replicas coordinated by a Lease; docs/kubernetes.md).\n' +
        'Precedence: flags, then CASTELLAN_* environment variables, then the config file, then defaults.\n' +
        'Without --config the CA authenticates tokens from its own dev issuer (castellan token mint); with a config file,\n' +
        'only when it says authentication.devIssuer: true (NOT for production).\n' +
        'Logs are JSON lines on stdout (CASTELLAN_LOG_LEVEL: fatal|error|warn|info|debug|trace|silent, default info;\n' +
        'CASTELLAN_LOG_FORMAT=text for one readable line per event); tokens appear only as SHA-256.\n' +
        'Every issuance and refusal is recorded in the ledger (config "ledger") before the answer is sent; when the\n' +
        'ledger cannot be written, requests fail with UNAVAILABLE. Inspect it with castellan audit.\n' +
        'SIGTERM/SIGINT: readiness turns 503, in-flight requests finish (shutdownGrace), the ledger is flushed and\n' +
        'checkpointed, then the process exits 0.',
    )
    .action(async (f: ServeFlags) => {
      const fileConfig: CaServerConfig = f.config ? await loadCaServerConfig(path.resolve(io.cwd, f.config)) : {};
      let overrides: CaServerConfig = {};
      const databaseUrl = ledgerDatabaseUrl(f.databaseUrl, io);
      try {
        // Flags go through the same schema as the file, so a bad address reads the same either way.
        overrides = validateCaServerConfig(
          {
            ...(f.listen ? { listen: f.listen } : {}),
            ...(f.http ? { http: f.http } : {}),
            ...(databaseUrl ? { ledger: { url: databaseUrl } } : {}),
          },
          'flags',
        );
      } catch (err) {
        throw new UsageError((err as Error).message.replace(/\n\s*/g, ' '));
      }
      const log = createLogger(io, 'castellan-ca');
      const config = { ...fileConfig, ...overrides, ...(overrides.ledger ? { ledger: { ...fileConfig.ledger, ...overrides.ledger } } : {}) };
      if (f.dir === undefined && !config.store?.kubernetes)
        throw new UsageError('ca serve: give the CA directory with --dir DIR (or CASTELLAN_DIR), or configure store.kubernetes in --config');
      const { server, tokenMode } = await startCaServer({
        ...(f.dir !== undefined ? { dir: path.resolve(io.cwd, f.dir) } : {}),
        config,
        devIssuer: !f.config,
        log,
      });
      io.err(`castellan CA serving gRPC on port ${server.grpcPort}, HTTP on port ${server.httpPort} (token authentication: ${tokenMode})\n`);
      if (tokenMode === 'dev-issuer' && f.config)
        io.err('castellan: WARNING: authentication.devIssuer is true: tokens from the local dev issuer are trusted. NOT FOR PRODUCTION.\n');
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          server.shutdown().then(resolve, resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}

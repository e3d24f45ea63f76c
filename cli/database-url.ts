import { isPostgresUrl } from '../ca/index.js';
import { UsageError, type CliIo } from './io.js';

/**
 * The PostgreSQL ledger URL from `--database-url`, else `CASTELLAN_DATABASE_URL`; undefined means the
 * SQLite ledger in the CA directory. The environment is read here, not as a commander default, so
 * `--help` never prints a URL that may carry a password.
 *
 * @example const url = ledgerDatabaseUrl(f.databaseUrl, io);
 */
export function ledgerDatabaseUrl(flag: string | undefined, io: CliIo): string | undefined {
  const url = flag ?? io.env.CASTELLAN_DATABASE_URL;
  if (url === undefined || url === '') return undefined;
  if (!isPostgresUrl(url)) throw new UsageError('--database-url (or CASTELLAN_DATABASE_URL) must start with postgres:// or postgresql://');
  return url;
}

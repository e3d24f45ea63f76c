import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server the ledger tests use: `.ci/run` starts one and sets CASTELLAN_TEST_DATABASE_URL;
 * without it the PostgreSQL cases are skipped with `pgSkipReason` printed.
 */
export const pgTestUrl: string | undefined = process.env.CASTELLAN_TEST_DATABASE_URL || undefined;

export const pgSkipReason = 'PostgreSQL ledger tests skipped: set CASTELLAN_TEST_DATABASE_URL=postgres://... (.ci/run starts a server and sets it)';

/** A fresh, empty database on the test server (tables have fixed names, so each test gets its own); drop() removes it. */
export async function freshPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!pgTestUrl) throw new Error(pgSkipReason);
  const name = `castellan_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgTestUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(pgTestUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: pgTestUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

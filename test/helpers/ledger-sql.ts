import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * Direct SQL on a ledger, as an attacker with database write access (but no CA key) would have.
 * `{T}` in the SQL stands for the ledger table (`ledger` in SQLite, `castellan_ledger` in PostgreSQL).
 */
export interface RawLedgerSql {
  run(sql: string): Promise<void>;
  rows(sql: string): Promise<Record<string, unknown>[]>;
}

export function rawLedgerSql(target: { file: string } | { url: string }): RawLedgerSql {
  if ('file' in target) {
    const q = (sql: string) => sql.replace(/\{T\}/g, 'ledger');
    return {
      async run(sql) {
        const db = new Database(target.file);
        try {
          db.exec(q(sql));
        } finally {
          db.close();
        }
      },
      async rows(sql) {
        const db = new Database(target.file);
        try {
          return db.prepare(q(sql)).all() as Record<string, unknown>[];
        } finally {
          db.close();
        }
      },
    };
  }
  const q = (sql: string) => sql.replace(/\{T\}/g, 'castellan_ledger');
  const withClient = async <R>(fn: (c: pg.Client) => Promise<R>) => {
    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    run: (sql) => withClient(async (c) => void (await c.query(q(sql)))),
    rows: (sql) => withClient(async (c) => (await c.query(q(sql))).rows as Record<string, unknown>[]),
  };
}

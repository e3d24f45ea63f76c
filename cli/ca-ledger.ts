import { openLedger, rememberLedger, type CaDirectory, type Ledger } from '../ca/index.js';
import type { CliIo } from './io.js';

/**
 * The ledger a CLI command records into for a CA directory: PostgreSQL when a URL is given, else
 * `<dir>/ledger.db`; refused when it is not the ledger the CA state remembers (moved aside, replaced:
 * docs/ledger.md). `done` closes it and, the first time a ledger was written for this CA, remembers it.
 *
 * @example const { ledger, done } = await openCaLedger(ca, url, io); try { await ledger.append(...) } finally { await done() }
 */
export async function openCaLedger(ca: CaDirectory, databaseUrl: string | undefined, io: CliIo): Promise<{ ledger: Ledger; done: () => Promise<void> }> {
  const ledger = await openLedger({
    ...(databaseUrl ? { databaseUrl } : { dir: ca.store.dir! }),
    witness: ca.store.witness,
    ...(ca.ledgerGenesis !== undefined ? { genesis: ca.ledgerGenesis } : {}),
    authority: () => ca.active,
    now: () => io.now(),
  });
  return {
    ledger,
    async done() {
      const genesis = ca.ledgerGenesis === undefined ? await ledger.genesis().catch(() => undefined) : undefined;
      await ledger.close();
      if (genesis !== undefined) await rememberLedger(ca.store, genesis, io.now());
    },
  };
}

import { CastellanError } from '../workload-identity/index.js';
import type { CaDirectory } from '../ca/index.js';
import { openCaLedger } from './ca-ledger.js';
import type { CliIo } from './io.js';

/** The ledger's first record for this CA: what was created, by which keys (docs/architecture.md §7: lifecycle records). */
export async function recordCaInit(ca: CaDirectory, databaseUrl: string | undefined, io: CliIo, command: string): Promise<void> {
  try {
    await appendInit(ca, databaseUrl, io);
  } catch (cause) {
    // The keys and certificates exist by now: say so, so the operator neither trusts nor reuses it blindly.
    throw new CastellanError(
      'ERR_LEDGER_UNAVAILABLE',
      `${command}: the CA in ${ca.store.location} was created (keys, certificates, ca.json) but its ca-init record could not be written to the ledger: ` +
        `${(cause as Error).message}. Nothing was issued. Fix the ledger and record it by starting over: remove ${ca.store.dir ?? ca.store.location} and run ${command} again ` +
        '(or keep it: the ledger then starts with the first issuance, without a ca-init record).',
      { cause },
    );
  }
}

async function appendInit(ca: CaDirectory, databaseUrl: string | undefined, io: CliIo): Promise<void> {
  const { ledger, done } = await openCaLedger(ca, databaseUrl, io);
  const a = ca.active;
  try {
    await ledger.appendLifecycle('ca-init', {
      trustDomain: ca.trustDomain.name,
      authority: a.id,
      source: a.source,
      keyType: a.signer.keyType,
      rootSerial: a.root.serialHex,
      rootKeyId: a.root.ski.toString('hex'),
      rootNotAfter: a.root.notAfter.toISOString(),
      issuerSerial: a.issuer.serialHex,
      issuerKeyId: a.issuer.ski.toString('hex'),
      issuerNotAfter: a.issuer.notAfter.toISOString(),
    });
  } finally {
    await done();
  }
}

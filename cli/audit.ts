import type { Command } from 'commander';
import { parseDuration, verifyLedger, type LedgerQuery, type LedgerRecord, type LedgerStore } from '../ca/index.js';
import { CastellanError } from '../workload-identity/index.js';
import { recordDetail, recordJson, recordTable } from './audit-format.js';
import { openAuditStore, verifyAnchors, type LedgerFlags } from './audit-source.js';
import { UsageError, type CliIo } from './io.js';
import { progress } from './progress.js';

interface ListFlags extends LedgerFlags {
  spiffeId?: string;
  namespace?: string;
  serial?: string;
  outcome?: string;
  since?: string;
  until?: string;
  limit?: string;
  output: string;
}

const LEDGER_HELP =
  "\nThe ledger: --dir DIR reads <DIR>/ledger.db (SQLite, the default); --config FILE reads the ledger the CA's\n" +
  'configuration names (ledger.url / ledger.path; with store.kubernetes the CA state is read from Kubernetes);\n' +
  '--database-url postgres://... (or CASTELLAN_DATABASE_URL) reads the PostgreSQL ledger shared by CA replicas.';

function ledgerOptions(c: Command): Command {
  return c
    .option('--dir <dir>', 'CA directory: its ledger.db (and, for verify, its roots and ledger-head.json)')
    .option('--config <file>', "the CA's configuration file: its ledger, and for verify its store's roots and head witness")
    .option('--database-url <url>', 'PostgreSQL ledger URL (env CASTELLAN_DATABASE_URL)');
}

function output(value: string): 'table' | 'json' {
  if (value !== 'table' && value !== 'json') throw new UsageError(`--output ${value}: want table or json`);
  return value;
}

/** `--since`/`--until`: an ISO 8601 time, or a duration meaning that long ago (`1h`, `7d`). */
function timeFlag(flag: string, value: string | undefined, now: Date): string | undefined {
  if (value === undefined) return undefined;
  try {
    return new Date(now.getTime() - parseDuration(value)).toISOString();
  } catch {
    // not a duration: try a time
  }
  // A time of day without a zone would be read in the machine's local zone: require Z or an offset.
  const zoneless = /T\d/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value);
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || zoneless || Number.isNaN(t))
    throw new UsageError(`${flag} ${value}: want an ISO 8601 time (2026-05-01T12:00:00Z) or a duration ago (90m, 24h)`);
  return new Date(t).toISOString();
}

/** Serials are stored as lowercase hex without separators; people paste them with colons or in upper case. */
function normalSerial(s: string): string {
  const hex = s.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw new UsageError(`serial ${s}: want hexadecimal (colons allowed)`);
  return hex;
}

async function withStore<T>(f: LedgerFlags, io: CliIo, fn: (store: LedgerStore) => Promise<T>): Promise<T> {
  const store = await openAuditStore(f, io);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function registerAudit(program: Command, io: CliIo): void {
  const audit = program
    .command('audit')
    .description('query and verify the issuance ledger: every issuance, refusal and CA lifecycle step, hash-chained and signed')
    .addHelpText('after', LEDGER_HELP);

  ledgerOptions(audit.command('list'))
    .description('list records, newest first')
    .option('--spiffe-id <id>', 'only this SPIFFE ID')
    .option('--namespace <ns>', 'only this Kubernetes namespace')
    .option('--serial <hex>', 'only this certificate serial')
    .option('--outcome <outcome>', 'issued or refused')
    .option('--since <time>', 'records at or after: ISO 8601 time, or a duration ago (24h)')
    .option('--until <time>', 'records before: ISO 8601 time, or a duration ago')
    .option('--limit <n>', 'at most n records (default 100)')
    .option('--output <format>', 'table or json', 'table')
    .addHelpText(
      'after',
      LEDGER_HELP +
        '\nJSON: an array of records with the fields seq, time, type, outcome, reason, api, spiffeId, namespace,\n' +
        'serviceAccount, podName, podUid, tokenSha256, authenticator, peer, csrKeySha256, serial, notBefore,\n' +
        'notAfter, issuerKeyId, event, details, prevHash, signature, hash (null when absent).',
    )
    .action(async (f: ListFlags) => {
      const format = output(f.output);
      if (f.outcome !== undefined && f.outcome !== 'issued' && f.outcome !== 'refused') throw new UsageError(`--outcome ${f.outcome}: want issued or refused`);
      let limit = 100;
      if (f.limit !== undefined) {
        limit = Number(f.limit);
        if (!/^\d+$/.test(f.limit) || limit < 1 || limit > 1_000_000) throw new UsageError(`--limit ${f.limit}: want a whole number from 1 to 1000000`);
      }
      const since = timeFlag('--since', f.since, io.now());
      const until = timeFlag('--until', f.until, io.now());
      const q: LedgerQuery = {
        limit,
        ...(f.spiffeId !== undefined ? { spiffeId: f.spiffeId } : {}),
        ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
        ...(f.serial !== undefined ? { serial: normalSerial(f.serial) } : {}),
        ...(f.outcome !== undefined ? { outcome: f.outcome as 'issued' | 'refused' } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      };
      const records = await withStore(f, io, (s) => s.query(q));
      if (format === 'json') io.out(`${JSON.stringify(records.map(recordJson), null, 2)}\n`);
      else io.out(records.length === 0 ? 'no records match\n' : recordTable(records));
    });

  ledgerOptions(audit.command('show'))
    .description('show one record in full: by sequence number (decimal, up to 15 digits) or certificate serial (hex)')
    .argument('<serial-or-seq>', 'a sequence number such as 42, or a serial such as 5f3a...')
    .option('--output <format>', 'table or json', 'table')
    .addHelpText('after', `${LEDGER_HELP}\nA serial matches every record that names it (normally one issuance).`)
    .action(async (key: string, f: LedgerFlags & { output: string }) => {
      const format = output(f.output);
      const isSeq = /^\d{1,15}$/.test(key);
      const serial = isSeq ? undefined : normalSerial(key);
      const records = await withStore(f, io, async (s): Promise<LedgerRecord[]> => {
        if (isSeq) {
          const r = await s.bySeq(Number(key));
          return r ? [r] : [];
        }
        return s.bySerial(serial!);
      });
      if (records.length === 0) throw new CastellanError('ERR_LEDGER_NOT_FOUND', `audit: no record with ${isSeq ? 'sequence number' : 'serial'} ${key}`);
      if (format === 'json') io.out(`${JSON.stringify(isSeq ? recordJson(records[0]!) : records.map(recordJson), null, 2)}\n`);
      else io.out(records.map(recordDetail).join('\n'));
    });

  ledgerOptions(audit.command('verify'))
    .description('recompute the hash chain, check every checkpoint signature and the head witness; exit 1 at the first broken record')
    .option('--bundle <file>', 'PEM roots the checkpoint signers must chain to (default: the roots in --dir)')
    .option(
      '--signers <file>',
      "PEM certificates allowed to sign checkpoints: the CA's intermediates (default: <DIR>/authorities/*/ca-cert.pem; required with --bundle and no --dir)",
    )
    .option('--output <format>', 'table or json', 'table')
    .addHelpText(
      'after',
      LEDGER_HELP +
        '\nDetects: an edited record, a deleted record (gap), reordered records, a forged or invalid checkpoint, and\n' +
        '(with --dir, from <DIR>/ledger-head.json) truncation after a checkpoint. Records after the newest\n' +
        'checkpoint are chained but not yet signed: they could be removed without a trace (reported as "unsigned").\n' +
        'Exit codes: 0 intact, 1 broken (or unreadable), 2 wrong usage.',
    )
    .action(async (f: LedgerFlags & { bundle?: string; signers?: string; output: string }) => {
      const format = output(f.output);
      const { roots, signers, head, genesis, witness } = await verifyAnchors(f, io);
      const report = await withStore(f, io, async (s) => {
        // A ledger moved aside or replaced starts another chain: its first record is not the one the CA remembers.
        if (genesis !== undefined) {
          const first = await s.bySeq(1);
          if (first?.hash !== genesis) {
            throw new CastellanError(
              'ERR_LEDGER_BROKEN',
              `audit: ledger BROKEN: ${first ? 'its first record is not' : 'it is empty, not'} the ledger this CA wrote (the CA state remembers record 1 as ${genesis.slice(0, 16)}…): it was moved aside, deleted or replaced`,
            );
          }
        }
        const p = progress(io, 'audit verify');
        try {
          const total = (await s.query({ limit: 1 }))[0]?.seq;
          return await verifyLedger(s, { roots, signers, ...(head ? { head } : {}), onProgress: (seq) => p.update(seq, total) });
        } finally {
          p.end();
        }
      });
      if (format === 'json') io.out(`${JSON.stringify(report, null, 2)}\n`);
      else {
        io.out(
          `records      ${report.records} (last sequence number ${report.lastSeq})\n` +
            `checkpoints  ${report.checkpoints}${report.lastCheckpointSeq > 0 ? ` (newest at ${report.lastCheckpointSeq})` : ''}\n` +
            `unsigned     ${report.unprotected} record${report.unprotected === 1 ? '' : 's'} after the newest checkpoint\n` +
            `head witness ${report.headSeq !== undefined ? `checkpoint ${report.headSeq}` : witness ? `none yet (${witness})` : 'not checked (no --dir or --config): truncation after the newest checkpoint cannot be detected'}\n` +
            (report.ok ? 'OK: the ledger is intact\n' : ''),
        );
      }
      if (report.problem) {
        throw new CastellanError('ERR_LEDGER_BROKEN', `audit: ledger BROKEN at record ${report.problem.seq} (${report.problem.kind}): ${report.problem.message}`);
      }
    });

  ledgerOptions(audit.command('export'))
    .description('write every record, oldest first, to stdout (paced by the reader; progress on stderr when it is a terminal)')
    .option('--format <format>', 'jsonl: one JSON record per line (the fields of list --output json)', 'jsonl')
    .addHelpText('after', LEDGER_HELP)
    .action(async (f: LedgerFlags & { format: string }) => {
      if (f.format !== 'jsonl') throw new UsageError(`--format ${f.format}: want jsonl`);
      const p = progress(io, 'audit export');
      try {
        await withStore(f, io, async (s) => {
          const total = (await s.query({ limit: 1 }))[0]?.seq;
          for (let after = 0; ; ) {
            const batch = await s.scan(after, 1000);
            if (batch.length === 0) break;
            io.out(batch.map((r) => `${JSON.stringify(recordJson(r))}\n`).join(''));
            after = batch[batch.length - 1]!.seq;
            p.update(after, total);
            // Backpressure: a slow reader paces the export instead of the process buffering the ledger.
            if (io.drained && !(await io.drained())) break; // the reader went away (a closed pipe)
          }
        });
      } finally {
        p.end();
      }
    });
}

import { ENTRY_FIELDS, type LedgerRecord } from '../ca/index.js';

/**
 * A record as `--output json` and `export` print it: every field, always present, null when absent,
 * in this order. `details` is the exact JSON text that was hashed (parse it yourself), so a script can
 * recompute `hash` from these fields.
 */
export function recordJson(r: LedgerRecord): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = { seq: r.seq };
  for (const f of ENTRY_FIELDS) out[f] = r[f] ?? null;
  out.prevHash = r.prevHash;
  out.signature = r.signature ?? null;
  out.hash = r.hash;
  return out;
}

/** What a record says, in a few words, for the table's WHAT column. */
function what(r: LedgerRecord): string {
  if (r.type === 'issuance' || r.type === 'refusal') return r.outcome === 'issued' ? `issued (${r.api ?? '?'})` : `refused ${r.reason ?? ''} (${r.api ?? '?'})`;
  if (r.type === 'checkpoint') {
    try {
      const d = JSON.parse(r.details ?? '{}') as { from?: number; to?: number };
      return `checkpoint ${d.from}..${d.to}`;
    } catch {
      return 'checkpoint';
    }
  }
  return r.event ?? r.type;
}

/** Records as an aligned text table (one line each), for people. */
export function recordTable(records: readonly LedgerRecord[]): string {
  const rows = [['SEQ', 'TIME', 'WHAT', 'SPIFFE ID', 'SERIAL']];
  for (const r of records) rows.push([String(r.seq), r.time.replace(/\.\d+Z$/, 'Z'), what(r), r.spiffeId ?? '-', r.serial ?? '-']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return `${rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** One record, one field per line, for `audit show`. */
export function recordDetail(r: LedgerRecord): string {
  const j = recordJson(r);
  const width = Math.max(...Object.keys(j).map((k) => k.length));
  return `${Object.entries(j)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k.padEnd(width)}  ${v}`)
    .join('\n')}\n`;
}

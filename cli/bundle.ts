import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_REFRESH_HINT_SECONDS,
  derToPem,
  loadCa,
  publishedJwtAuthorities,
  storedFederatedBundles,
  writeFileAtomic,
  type CaDirectory,
  type FederationReport,
} from '../ca/index.js';
import { formatSpiffeBundle, type SpiffeBundle } from '../workload-identity/index.js';
import { caTarget, TARGET_HELP, type CaTargetFlags } from './ca-target.js';
import { choiceFlag } from './flags.js';
import { UsageError, type CliIo } from './io.js';

interface BundleFlags extends CaTargetFlags {
  trustDomain?: string;
  format: 'spiffe' | 'pem';
}

/** The bundle of the CA's own trust domain, or of a federated one, from the CA state. */
async function bundleOfTarget(f: BundleFlags, io: CliIo): Promise<{ bundle: Omit<SpiffeBundle, 'trustDomain'>; name: string }> {
  const target = await caTarget(f, io, { ledger: false });
  let ca: CaDirectory;
  try {
    ca = await loadCa(target.store);
  } finally {
    await target.store.close();
  }
  const hint = Math.round((target.config?.federation?.bundleEndpoint?.refreshHint ?? DEFAULT_REFRESH_HINT_SECONDS * 1000) / 1000);
  if (f.trustDomain === undefined || f.trustDomain === ca.trustDomain.name) {
    return {
      name: ca.trustDomain.name,
      bundle: { x509Authorities: ca.bundle.map((c) => c.der), jwtAuthorities: publishedJwtAuthorities(ca), sequence: ca.bundleSequence, refreshHintSeconds: hint },
    };
  }
  const fed = storedFederatedBundles(ca.snapshot.state).find((b) => b.bundle.trustDomain.name === f.trustDomain);
  if (!fed) {
    const known = storedFederatedBundles(ca.snapshot.state).map((b) => b.bundle.trustDomain.name);
    throw new UsageError(
      `no bundle of trust domain ${f.trustDomain} in ${target.store.location}; it holds ${[ca.trustDomain.name, ...known].join(', ')} (castellan federation list)`,
    );
  }
  return { name: fed.bundle.trustDomain.name, bundle: fed.bundle };
}

function render(b: Omit<SpiffeBundle, 'trustDomain'>, format: 'spiffe' | 'pem'): string {
  return format === 'pem' ? b.x509Authorities.map((der) => derToPem(der, 'CERTIFICATE')).join('') : formatSpiffeBundle(b);
}

export function registerBundle(program: Command, io: CliIo): void {
  const bundle = program.command('bundle').description('the trust bundle as a SPIFFE bundle (JWK Set: X.509 roots and JWT-SVID keys) or PEM');
  const common = (c: Command) =>
    c
      .option('--dir <dir>', TARGET_HELP.dir)
      .option('--config <file>', TARGET_HELP.config)
      .option('--trust-domain <name>', "a federated trust domain instead of the CA's own")
      .option('--format <format>', 'spiffe (SPIFFE bundle JSON, as the bundle endpoint serves it) or pem (X.509 roots only)', choiceFlag(['spiffe', 'pem'] as const), 'spiffe');
  common(bundle.command('show'))
    .description('print the bundle on stdout')
    .action(async (f: BundleFlags) => {
      const { bundle: b } = await bundleOfTarget(f, io);
      io.out(render(b, f.format));
    });
  common(bundle.command('export'))
    .description("write the bundle to a file (e.g. for another trust domain's initialBundle or SPIRE's `bundle set`)")
    .requiredOption('--out <file>', 'the file to write (replaced atomically, mode 0644)')
    .action(async (f: BundleFlags & { out: string }) => {
      const { bundle: b, name } = await bundleOfTarget(f, io);
      const file = path.resolve(io.cwd, f.out);
      await writeFileAtomic(file, render(b, f.format), 0o644);
      io.out(
        `wrote the ${f.format} bundle of ${name} (${b.x509Authorities.length} root(s), ${b.jwtAuthorities.length} JWT key(s)${b.sequence !== undefined ? `, sequence ${b.sequence}` : ''}) to ${file}\n`,
      );
    });
}

/** One row of `castellan federation list` (also its JSON output). */
export interface FederationRow {
  trustDomain: string;
  configured: boolean;
  endpoint?: string;
  profile?: string;
  stored: boolean;
  source?: string;
  spiffeSequence?: number;
  x509Authorities: number;
  jwtAuthorities: number;
  updatedAt?: string;
  /** When the last of its X.509 roots expires (none valid after it: cross-domain mTLS fails). */
  rootsValidUntil?: string;
  /** What the leader reported about its last fetches, when a running CA published one. */
  status?: FederationReport;
}

/** Federated trust domains as configured, stored in the CA state, and reported by the running leader. */
export async function federationRows(f: CaTargetFlags, io: CliIo): Promise<{ rows: FederationRow[]; problems: string[] }> {
  const target = await caTarget(f, io, { ledger: false });
  try {
    const ca = await loadCa(target.store);
    const configured = target.config?.federation?.trustDomains ?? [];
    const stored = storedFederatedBundles(ca.snapshot.state);
    const all = await target.store.agentReports.all().catch(() => []);
    // The newest report that carries federation status (the leader's).
    const leader = all.filter((r) => r.federation !== undefined).sort((a, b) => b.writtenAt.localeCompare(a.writtenAt))[0];
    const names = [
      ...new Set([...configured.map((c) => c.trustDomain), ...stored.map((s) => s.bundle.trustDomain.name), ...Object.keys(ca.snapshot.state.federation ?? {})]),
    ].sort();
    const rows = names.map((name): FederationRow => {
      const c = configured.find((x) => x.trustDomain === name);
      const s = stored.find((x) => x.bundle.trustDomain.name === name);
      const status = leader?.federation?.find((x) => x.trustDomain === name);
      return {
        trustDomain: name,
        configured: c !== undefined,
        ...(c ? { endpoint: c.bundleEndpointUrl, profile: c.profile } : {}),
        stored: s !== undefined,
        ...(s ? { source: s.stored.source, updatedAt: s.stored.updatedAt } : {}),
        ...(s?.bundle.sequence !== undefined ? { spiffeSequence: s.bundle.sequence } : {}),
        x509Authorities: s?.bundle.x509Authorities.length ?? 0,
        ...(s && s.bundle.x509Authorities.length > 0
          ? { rootsValidUntil: new Date(Math.max(...s.bundle.x509Authorities.map((d) => Date.parse(new X509Certificate(d).validTo)))).toISOString() }
          : {}),
        jwtAuthorities: s?.bundle.jwtAuthorities.length ?? 0,
        ...(status ? { status } : {}),
      };
    });
    const problems = Object.keys(ca.snapshot.state.federation ?? {})
      .filter((n) => !stored.some((s) => s.bundle.trustDomain.name === n))
      .map((n) => `the stored bundle of ${n} cannot be parsed (the CA state was edited?)`);
    return { rows, problems };
  } finally {
    await target.store.close();
  }
}

export function registerFederation(program: Command, io: CliIo): void {
  const federation = program.command('federation').description('SPIFFE federation: the trust domains this CA trusts bundles of (docs/federation.md)');
  federation
    .command('list')
    .description("federated trust domains: configured endpoint, stored bundle (sequence, keys, age) and the leader's last fetch result")
    .option('--dir <dir>', TARGET_HELP.dir)
    .option('--config <file>', `${TARGET_HELP.config}; without it only stored bundles are listed`)
    .option('--output <format>', 'table or json', choiceFlag(['table', 'json'] as const), 'table')
    .action(async (f: CaTargetFlags & { output: 'table' | 'json' }) => {
      const { rows, problems } = await federationRows(f, io);
      if (f.output === 'json') {
        io.out(`${JSON.stringify({ trustDomains: rows, problems }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        io.out('no federated trust domains (configure federation.trustDomains; docs/federation.md)\n');
        return;
      }
      const table = [['TRUST DOMAIN', 'SOURCE', 'SEQUENCE', 'ROOTS', 'JWT KEYS', 'UPDATED', 'LAST FETCH']];
      for (const r of rows) {
        const last = r.status
          ? r.status.failures > 0
            ? `FAILING ${r.status.failures}x: ${r.status.lastError?.reason ?? '?'}`
            : r.status.lastSuccess
              ? `ok ${r.status.lastSuccess}`
              : 'not yet'
          : r.configured
            ? 'no report (is the CA running?)'
            : 'not configured: the CA removes it';
        table.push([
          r.trustDomain,
          r.source ?? 'none',
          r.spiffeSequence !== undefined ? String(r.spiffeSequence) : '-',
          String(r.x509Authorities),
          String(r.jwtAuthorities),
          r.updatedAt ?? '-',
          last,
        ]);
      }
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      io.out(`${table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`);
      for (const p of problems) io.out(`problem: ${p}\n`);
    });
}

import type { Command } from 'commander';
import { caError, formatDuration } from '../ca/index.js';
import {
  chainTrustDomain,
  inspectCertificate,
  readCertificateFile,
  verifyChain,
  type CertificateReport,
  type ChainVerdict,
  type FileReport,
  type LoadedCertificate,
} from './certificate-report.js';
import { choiceFlag } from './flags.js';
import type { CliIo } from './io.js';

const OUTPUTS = ['text', 'json'] as const;

interface InspectFlags {
  bundle?: string;
  output: (typeof OUTPUTS)[number];
}

/**
 * `castellan cert inspect FILE... [--bundle FILE] [--output text|json]`: shows each certificate, its
 * X509-SVID verdict and, with a bundle, whether each file's chain verifies.
 *
 * @example await run(['cert', 'inspect', 'chain.pem', '--bundle', 'bundle.pem'], io)
 */
export function registerCertInspect(cert: Command, io: CliIo): void {
  cert
    .command('inspect')
    .description('show certificates, check them against the X509-SVID rules and, with --bundle, verify their chains')
    .argument('<file...>', 'PEM file with one or more certificates (a chain: leaf first), or one DER certificate')
    .option('--bundle <file>', "trust bundle (PEM roots) to verify each file's chain against")
    .option('--output <format>', `output format: ${OUTPUTS.join(', ')}`, choiceFlag(OUTPUTS), 'text')
    .addHelpText(
      'after',
      '\nFor every certificate: subject, SANs, SPIFFE ID, issuer, validity (time left, or EXPIRED ... ago),\n' +
        'key type and size, serial, SHA-256 fingerprint, whether it is a CA, and the X509-SVID verdict:\n' +
        'CA certificates are checked against the signing-certificate rules (those after a leaf must be in\n' +
        "the leaf's trust domain), others against the leaf rules. The verdict ignores dates.\n" +
        '\nWith --bundle, each file is a chain: its first certificate is verified through the other\n' +
        'certificates of the file (untrusted intermediates) up to a root in the bundle: every signature\n' +
        'and issuer name, every certificate valid now (expired or not yet valid fails), every issuer a CA\n' +
        'within its pathLen.\n' +
        '\n--output json prints an array with one object per file: {file, certificates: [...], chain?}.\n' +
        '\nExit codes: 0 every certificate parsed and is a valid X509-SVID (and, with --bundle, every chain\n' +
        'verified); 1 a certificate is not a valid X509-SVID or a chain failed to verify (the report is\n' +
        'printed, a summary goes to stderr), or a file cannot be read or holds no certificate (nothing is\n' +
        'printed but the reason on stderr); 2 wrong usage (no FILE, unknown --output format).',
    )
    .action(async (files: string[], f: InspectFlags) => {
      // Read everything first: a missing file fails the command before any partial report.
      const loaded: { file: string; certs: LoadedCertificate[] }[] = [];
      for (const file of files) loaded.push({ file, certs: await readCertificateFile(file, io.cwd) });
      const roots = f.bundle === undefined ? undefined : await readCertificateFile(f.bundle, io.cwd);

      const now = io.now();
      const reports = loaded.map(({ file, certs }): FileReport => {
        const first = inspectCertificate(certs[0]!, now);
        const td = chainTrustDomain(first);
        const certificates = [first, ...certs.slice(1).map((c) => inspectCertificate(c, now, td))];
        return roots === undefined ? { file, certificates } : { file, certificates, chain: verifyChain(certs, roots, now) };
      });

      io.out(f.output === 'json' ? `${JSON.stringify(reports.map(fileJson), null, 2)}\n` : reports.map((r) => fileText(r, now)).join('\n'));

      const notSvid = reports.flatMap((r) => r.certificates).filter((c) => !c.svid.valid).length;
      const broken = reports.filter((r) => r.chain?.verified === false).length;
      const problems = [
        ...(notSvid > 0 ? [`${notSvid} ${notSvid === 1 ? 'certificate is' : 'certificates are'} not a valid X509-SVID`] : []),
        ...(broken > 0 ? [`${broken} ${broken === 1 ? 'chain' : 'chains'} failed to verify`] : []),
      ];
      if (problems.length > 0) throw caError('ERR_CERT_CHECK_FAILED', `cert: ${problems.join('; ')}`);
    });
}

const LABEL = 12;
const row = (label: string, value: string) => `  ${label.padEnd(LABEL)}${value}\n`;

function fileText(r: FileReport, now: Date): string {
  const n = r.certificates.length;
  let out = `${r.file}: ${n} ${n === 1 ? 'certificate' : 'certificates'}\n`;
  r.certificates.forEach((c, i) => {
    out += `\ncertificate ${i + 1} of ${n}\n${certificateText(c, now)}`;
  });
  if (r.chain) out += `\n${chainText(r.chain)}\n`;
  return out;
}

function certificateText(c: CertificateReport, now: Date): string {
  const since = (d: Date) => formatDuration(now.getTime() - d.getTime());
  const until = (d: Date) => formatDuration(d.getTime() - now.getTime());
  const sans = c.sans.length === 0 ? ['(none)'] : c.sans.map((s) => `${s.type.toUpperCase()}:${s.value}`);
  const notAfter = c.validity === 'expired' ? `EXPIRED ${since(c.notAfter)} ago` : c.validity === 'valid' ? `${until(c.notAfter)} left` : `${until(c.notAfter)} from now`;
  return (
    row('subject', c.subject || '(empty)') +
    sans.map((s, i) => row(i === 0 ? 'SANs' : '', s)).join('') +
    row('SPIFFE ID', c.svid.spiffeId ?? '(none)') +
    row('issuer', c.issuer || '(empty)') +
    row('not before', `${c.notBefore.toISOString()}${c.validity === 'not-yet-valid' ? ` (NOT YET VALID, starts in ${until(c.notBefore)})` : ''}`) +
    row('not after', `${c.notAfter.toISOString()} (${notAfter})`) +
    row('key', c.key.description) +
    row('serial', c.serialHex) +
    row('SHA-256', c.sha256Fingerprint) +
    row('CA', c.ca ? `yes${c.pathLen === undefined ? '' : ` (pathLen ${c.pathLen})`}` : 'no') +
    row('X509-SVID', svidText(c.svid))
  );
}

function svidText(v: CertificateReport['svid']): string {
  if (v.valid) return v.role === 'leaf' ? 'valid X509-SVID (leaf)' : 'valid X509-SVID signing certificate';
  return `INVALID ${v.role === 'leaf' ? 'leaf' : 'signing certificate'}: ${v.code}: ${v.message}`;
}

function chainText(c: ChainVerdict): string {
  return c.verified ? `chain: OK (${(c.path ?? []).join(' -> ')})` : `chain: FAILED: ${c.error}`;
}

/** The JSON shape, spelled out so that it stays stable whatever the report types gain. */
function fileJson(r: FileReport): unknown {
  return {
    file: r.file,
    certificates: r.certificates.map((c) => ({
      subject: c.subject,
      issuer: c.issuer,
      sans: c.sans.map((s) => ({ type: s.type, value: s.value })),
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      secondsLeft: c.secondsLeft,
      validity: c.validity,
      key: { type: c.key.type, curve: c.key.curve, bits: c.key.bits, description: c.key.description },
      serial: c.serialHex,
      sha256Fingerprint: c.sha256Fingerprint,
      ca: c.ca,
      pathLen: c.pathLen,
      svid: { valid: c.svid.valid, role: c.svid.role, spiffeId: c.svid.spiffeId, code: c.svid.code, message: c.svid.message },
    })),
    ...(r.chain ? { chain: { verified: r.chain.verified, path: r.chain.path, error: r.chain.error } } : {}),
  };
}

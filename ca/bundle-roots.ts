import type { AuthorityRecord, AuthorityState } from './ca-state.js';
import { certificatesFromPem, type CertificateInfo } from './certificate-info.js';

/**
 * The roots of prepared, active and not yet dropped retired slots, oldest slot first, each once
 * (docs/architecture.md §6: what every peer must trust now).
 */
export function bundleOf(
  authorities: readonly { readonly state: AuthorityState; readonly record: Readonly<AuthorityRecord>; readonly root: CertificateInfo }[],
): CertificateInfo[] {
  const out: CertificateInfo[] = [];
  for (const a of authorities) {
    const member = a.state !== 'retired' || a.record.inBundle !== false;
    if (member && !out.some((r) => r.der.equals(a.root.der))) out.push(a.root);
  }
  return out;
}

/** The bundle (PEM) of a state whose slots' root certificates `rootPem` gives. */
export async function bundlePemOf(authorities: readonly AuthorityRecord[], rootPem: (id: number) => Promise<string>, where: string): Promise<string> {
  const slots = [];
  for (const rec of authorities) {
    const root = certificatesFromPem(await rootPem(rec.id), { code: 'ERR_CA_DIR', what: `ca: ${where}, authority ${rec.id}, root-cert.pem` })[0];
    if (root) slots.push({ state: rec.state, record: rec, root });
  }
  return bundleOf(slots)
    .map((c) => c.pem)
    .join('');
}

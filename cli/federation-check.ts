import type { FederationRow } from './bundle.js';

/** One finding of `castellan check` (the shape check.ts prints). */
interface Finding {
  level: 'fail' | 'warn';
  what: string;
  todo: string;
}

/**
 * What `castellan check` says about federation (docs/federation.md): a configured trust domain without
 * any bundle (its peers cannot be authenticated), a bundle whose roots have all expired, fetches that
 * keep failing (the last good bundle is served meanwhile), stored bundles that cannot be parsed.
 *
 * @example findings.push(...federationFindings(rows, problems, now));
 */
export function federationFindings(rows: readonly FederationRow[], problems: readonly string[], now: Date): Finding[] {
  const out: Finding[] = [];
  for (const r of rows) {
    const failing = r.status && r.status.failures > 0 ? r.status : undefined;
    const why = failing?.lastError ? ` (${failing.lastError.reason}: ${failing.lastError.message})` : '';
    if (r.configured && !r.stored) {
      out.push({
        level: 'fail',
        what: `federated trust domain ${r.trustDomain} has no bundle yet${why}: its workloads cannot be authenticated`,
        todo: failing ? `check ${r.endpoint} (profile ${r.profile}); for https_spiffe set initialBundle` : 'start the CA with this configuration and check its log ("federation:")',
      });
      continue;
    }
    if (r.stored && r.rootsValidUntil !== undefined && Date.parse(r.rootsValidUntil) <= now.getTime()) {
      out.push({
        level: 'fail',
        what: `every root of federated trust domain ${r.trustDomain} expired (the last at ${r.rootsValidUntil})`,
        todo: `check that ${r.endpoint ?? 'its bundle endpoint'} is fetched (castellan federation list)`,
      });
    }
    if (failing) {
      out.push({
        level: 'warn',
        what: `fetching the bundle of ${r.trustDomain} failed ${failing.failures} time(s) in a row${why}; the bundle stored at ${r.updatedAt ?? '?'} stays in use`,
        todo: `check ${r.endpoint ?? 'the endpoint'} and the CA log ("federation: cannot refresh the bundle")`,
      });
    } else if (r.configured && !r.status) {
      out.push({ level: 'warn', what: `no running CA reports fetching the bundle of ${r.trustDomain}`, todo: 'start the CA (castellan ca serve) with this configuration' });
    }
  }
  for (const p of problems) out.push({ level: 'warn', what: p, todo: 'remove the entry from federation in the CA state, or let the CA fetch the bundle again' });
  return out;
}

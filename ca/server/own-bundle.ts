import { formatSpiffeBundle } from '../../workload-identity/index.js';
import type { TrustBundleSnapshot } from './trust-bundle-source.js';

/** Default `spiffe_refresh_hint` of the served bundle: SPIFFE Trust Domain and Bundle §6.1 suggests minutes. */
export const DEFAULT_REFRESH_HINT_SECONDS = 300;

const cache = new WeakMap<TrustBundleSnapshot, Map<number, string>>();

/**
 * This trust domain's SPIFFE bundle document (SPIFFE Trust Domain and Bundle §4): every root in the
 * trust bundle (`x509-svid`), every published JWT-SVID key (`jwt-svid`), the bundle sequence as
 * `spiffe_sequence` (it grows with every change, §4.1.1) and the refresh hint. Formatted once per
 * bundle snapshot.
 *
 * @example res.end(ownBundleDocument(server.trustBundle.current(), 300));
 */
export function ownBundleDocument(s: TrustBundleSnapshot, refreshHintSeconds = DEFAULT_REFRESH_HINT_SECONDS): string {
  let byHint = cache.get(s);
  if (!byHint) {
    byHint = new Map();
    cache.set(s, byHint);
  }
  let doc = byHint.get(refreshHintSeconds);
  if (doc === undefined) {
    doc = formatSpiffeBundle({ x509Authorities: s.roots.map((r) => r.der), jwtAuthorities: s.jwtAuthorities, sequence: s.sequence, refreshHintSeconds });
    byHint.set(refreshHintSeconds, doc);
  }
  return doc;
}

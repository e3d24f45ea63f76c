import type { JwtAuthority } from '../workload-identity/index.js';
import type { CaDirectory, LoadedAuthority } from './load-ca.js';
import type { Signer } from './signer.js';

/**
 * How long a JWT-SVID key is published before it signs (docs/jwt-svid.md): validators that refresh the
 * bundle at least this often (agents at once over WatchTrustBundle, federated peers per the bundle
 * endpoint's refresh hint) know a key before they see a token signed with it. Default 10 minutes, twice
 * the bundle endpoint's default refresh hint.
 */
export const DEFAULT_JWT_KEY_PUBLISH_LEAD_MS = 10 * 60_000;

/** A slot holding a JWT key is in the bundle as long as its root is (docs/architecture.md §6). */
function inBundle(a: LoadedAuthority): boolean {
  return a.state !== 'retired' || a.record.inBundle !== false;
}

/**
 * The JWT-SVID keys the trust bundle publishes (JWT-SVID §6.1): the key of every slot whose root is in
 * the bundle (prepared, active, retired until `root retire`), oldest slot first, no duplicates.
 *
 * @example formatSpiffeBundle({ x509Authorities, jwtAuthorities: publishedJwtAuthorities(ca) });
 */
export function publishedJwtAuthorities(ca: Pick<CaDirectory, 'authorities'>): JwtAuthority[] {
  const out: JwtAuthority[] = [];
  for (const a of ca.authorities) {
    if (!a.jwtKey || !inBundle(a) || out.some((k) => k.keyId === a.jwtKey!.keyId)) continue;
    out.push({ keyId: a.jwtKey.keyId, publicKey: a.jwtKey.signer.publicKey });
  }
  return out;
}

/** The key that signs JWT-SVIDs now, or why none does. */
export type JwtSigningKey =
  | { readonly ok: true; readonly authority: LoadedAuthority; readonly keyId: string; readonly signer: Signer }
  | { readonly ok: false; readonly reason: 'no-key' | 'not-published'; readonly message: string; readonly usableAt?: Date };

/**
 * Which key signs JWT-SVIDs at `now` (docs/jwt-svid.md): keys rotate with the authorities (prepared →
 * active → retired), and a key signs only once it has been in the bundle for `publishLeadMs` — except
 * the first JWT key a CA ever has, which nobody can have an older bundle for. Until the newest key
 * qualifies, the key of the slot active before it keeps signing.
 *
 * @example const k = jwtSigningKey(ca, new Date(), DEFAULT_JWT_KEY_PUBLISH_LEAD_MS); if (k.ok) sign(k.signer);
 */
export function jwtSigningKey(ca: Pick<CaDirectory, 'authorities'>, now: Date, publishLeadMs: number): JwtSigningKey {
  const withKeys = ca.authorities.filter((a) => a.jwtKey !== undefined);
  const firstKeyId = Math.min(...withKeys.map((a) => a.id));
  // Signing candidates, newest activation first: the active slot, then retired ones still in the bundle.
  const candidates = withKeys
    .filter((a) => (a.state === 'active' || a.state === 'retired') && inBundle(a))
    .sort((a, b) =>
      a.state === 'active'
        ? -1
        : b.state === 'active'
          ? 1
          : Date.parse(b.record.activatedAt ?? b.record.createdAt) - Date.parse(a.record.activatedAt ?? a.record.createdAt) || b.id - a.id,
    );
  let earliest: Date | undefined;
  for (const a of candidates) {
    const publishedAt = Date.parse(a.record.createdAt);
    if (a.id === firstKeyId || now.getTime() - publishedAt >= publishLeadMs) return { ok: true, authority: a, keyId: a.jwtKey!.keyId, signer: a.jwtKey!.signer };
    const at = new Date(publishedAt + publishLeadMs);
    if (!earliest || at < earliest) earliest = at;
  }
  if (earliest) {
    return {
      ok: false,
      reason: 'not-published',
      usableAt: earliest,
      message: `jwtsvid: the JWT-SVID signing key was published at ${new Date(earliest.getTime() - publishLeadMs).toISOString()} and signs from ${earliest.toISOString()} (jwtSvid.keyPublishLead), so that validators know it first; retry then`,
    };
  }
  return {
    ok: false,
    reason: 'no-key',
    message:
      'jwtsvid: the active authority was created before JWT-SVID support and has no JWT-SVID signing key; ' +
      "one comes with the next authority: 'castellan root prepare' then 'castellan root activate', or the next automatic intermediate rotation",
  };
}

import type { TrustDomain } from '../workload-identity/index.js';
import { createIntermediateCertificate, createRootCertificate } from './authority-profile.js';
import { certificateInfo, type CertificateInfo } from './certificate-info.js';
import type { KeyMaterial, KeyProvider } from './key-provider.js';
import type { KeyType } from './key-type.js';
import type { Signer } from './signer.js';
import type { StoredAuthority } from './store/index.js';

const YEAR_MS = 365 * 86_400_000;
/** Default lifetimes (docs/architecture.md §3). */
export const DEFAULT_ROOT_TTL_MS = 10 * YEAR_MS;
export const DEFAULT_INTERMEDIATE_TTL_MS = YEAR_MS;

/** A new authority slot, ready for a store to commit. */
export interface MintedAuthority {
  readonly stored: StoredAuthority;
  readonly root: CertificateInfo;
  readonly issuer: CertificateInfo;
  readonly crossSigned?: CertificateInfo;
}

/** A root certificate with the signer of its key: what signs an intermediate under it. */
export interface IssuingRoot {
  readonly root: CertificateInfo;
  readonly signer: Signer;
}

/**
 * The one path that makes authorities (`ca init`, `root prepare`, a CA creating its own state in
 * Kubernetes): a new root and an intermediate under it, and optionally the same intermediate (subject
 * and key) cross-signed by the root active until now, so that a peer trusting only the old root can
 * still validate leaves of the new intermediate when the cross-signed certificate is sent with them.
 *
 * @example const a = await mintRootAuthority({ trustDomain, generation: 1, keys: softwareKeyProvider, keyType: 'ec-p256', now: new Date() });
 */
export async function mintRootAuthority(o: {
  readonly trustDomain: TrustDomain;
  /** The slot id: `Castellan Root CA <n>`, `Castellan Intermediate <n>`. */
  readonly generation: number;
  readonly keys: KeyProvider;
  readonly keyType: KeyType;
  readonly now: Date;
  readonly rootTtlMs?: number;
  readonly intermediateTtlMs?: number;
  readonly crossSignBy?: IssuingRoot;
}): Promise<MintedAuthority> {
  const rootKey = await o.keys.generate(o.keyType, `castellan-root-${o.generation}`);
  const root = certificateInfo(
    createRootCertificate({ trustDomain: o.trustDomain, generation: o.generation, signer: rootKey.signer, now: o.now, ttlMs: o.rootTtlMs ?? DEFAULT_ROOT_TTL_MS }),
  );
  const caKey = await o.keys.generate(o.keyType, `castellan-ca-${o.generation}`);
  const jwtKey = await mintJwtKey(o.keys, o.keyType, o.generation);
  const ttlMs = o.intermediateTtlMs ?? DEFAULT_INTERMEDIATE_TTL_MS;
  const under = (r: IssuingRoot) => intermediateUnder(r, caKey.signer.spki, { ...o, ttlMs });
  const issuer = under({ root, signer: rootKey.signer });
  const crossSigned = o.crossSignBy ? under(o.crossSignBy) : undefined;
  return {
    root,
    issuer,
    ...(crossSigned ? { crossSigned } : {}),
    stored: {
      rootCertPem: root.pem,
      caCertPem: issuer.pem,
      certChainPem: issuer.pem + root.pem,
      ...(crossSigned ? { crossCertPem: crossSigned.pem } : {}),
      rootKey: rootKey.material,
      caKey: caKey.material,
      jwtKey,
    },
  };
}

/**
 * A new intermediate under an existing root (automatic intermediate rotation, docs/architecture.md §6):
 * the slot holds no root key; it names the root's slot (`rootOf`) instead.
 *
 * @example const a = await mintIntermediate({ trustDomain, generation: 3, keys, keyType, now, ttlMs, under: { root, signer } });
 */
export async function mintIntermediate(o: {
  readonly trustDomain: TrustDomain;
  readonly generation: number;
  readonly keys: KeyProvider;
  readonly keyType: KeyType;
  readonly now: Date;
  readonly ttlMs: number;
  readonly under: IssuingRoot;
}): Promise<MintedAuthority> {
  const caKey = await o.keys.generate(o.keyType, `castellan-ca-${o.generation}`);
  const jwtKey = await mintJwtKey(o.keys, o.keyType, o.generation);
  const r = o.under;
  const issuer = intermediateUnder(r, caKey.signer.spki, o);
  return {
    root: r.root,
    issuer,
    stored: { rootCertPem: r.root.pem, caCertPem: issuer.pem, certChainPem: issuer.pem + r.root.pem, caKey: caKey.material, jwtKey },
  };
}

/** An intermediate certificate for `spki` signed by root `r` (docs/architecture.md §3). */
function intermediateUnder(r: IssuingRoot, spki: Buffer, o: { trustDomain: TrustDomain; generation: number; now: Date; ttlMs: number }): CertificateInfo {
  return certificateInfo(
    createIntermediateCertificate({
      trustDomain: o.trustDomain,
      generation: o.generation,
      spki,
      issuer: { subject: r.root.subject, ski: r.root.ski, notAfter: r.root.notAfter, signer: r.signer },
      now: o.now,
      ttlMs: o.ttlMs,
    }),
  );
}

/**
 * A slot's JWT-SVID signing key (docs/jwt-svid.md): same type and provider as its CA keys, so an HSM
 * keeps it too. It is published with the slot and signs JWT-SVIDs once the slot is active and the key
 * has been published long enough (ca/jwt-authorities.ts).
 *
 * @example const jwtKey = await mintJwtKey(keys, 'ec-p256', 3);
 */
export async function mintJwtKey(keys: KeyProvider, keyType: KeyType, generation: number): Promise<KeyMaterial> {
  return (await keys.generate(keyType, `castellan-jwt-${generation}`)).material;
}

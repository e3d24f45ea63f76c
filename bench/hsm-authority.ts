// A signing authority (root + intermediate) whose keys live in a throwaway SoftHSM2 token, for the
// benchmarks that compare the HSM signer with the file signer.
import { certificateInfo, createIntermediateCertificate, createRootCertificate, openPkcs11KeyProvider, type KeyType, type SigningAuthority } from '../ca/index.js';
import { TrustDomain } from '../workload-identity/index.js';
import { createSoftHsm, softHsmMissing } from '../test/helpers/softhsm.js';

const DAY_MS = 86_400_000;

/** The authority and a function that closes the token and removes it, or why SoftHSM2 cannot be used here. */
export async function hsmAuthority(keyType: KeyType = 'ec-p256'): Promise<{ authority: SigningAuthority; close: () => Promise<void> } | { skip: string }> {
  const missing = softHsmMissing();
  if (missing) return { skip: missing };
  const hsm = createSoftHsm(['castellan-bench']);
  const provider = await openPkcs11KeyProvider({ module: hsm.module, token: 'castellan-bench', pinFile: hsm.tokens['castellan-bench']!.pinFile });
  const trustDomain = TrustDomain.of('cluster.local');
  const now = new Date();
  const root = await provider.generate(keyType, 'bench-root');
  const mid = await provider.generate(keyType, 'bench-intermediate');
  const rootInfo = certificateInfo(createRootCertificate({ trustDomain, generation: 1, signer: root.signer, now, ttlMs: 365 * DAY_MS }));
  const issuer = { subject: rootInfo.subject, ski: rootInfo.ski, notAfter: rootInfo.notAfter, signer: root.signer };
  const midInfo = certificateInfo(createIntermediateCertificate({ trustDomain, generation: 1, spki: mid.signer.spki, issuer, now, ttlMs: 30 * DAY_MS }));
  return {
    authority: { trustDomain, issuer: midInfo, signer: mid.signer, parents: [rootInfo] },
    close: async () => {
      await provider.close();
      hsm.cleanup();
    },
  };
}

import type { Signer } from '../../ca/index.js';

/**
 * A signer like a PKCS#11 one over `soft`'s key: it signs on the calling thread only (no signAsync) and
 * hands no key to anyone (a signing worker cannot take it); `signs()` counts its signatures.
 */
export function hsmLikeSigner(soft: Signer): { signer: Signer; signs: () => number } {
  let n = 0;
  return {
    signer: {
      keyType: soft.keyType,
      publicKey: soft.publicKey,
      signatureAlgorithm: soft.signatureAlgorithm,
      spki: soft.spki,
      sign: (data) => {
        n++;
        return soft.sign(data);
      },
    },
    signs: () => n,
  };
}

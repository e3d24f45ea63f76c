import { createHash, randomBytes, verify, type KeyObject } from 'node:crypto';
import { TAG, tlv } from '../der.js';
import { caError } from '../errors.js';
import type { KeyType } from '../key-type.js';
import { signatureAlgorithmFor } from '../signature-algorithm.js';
import type { Signer } from '../signer.js';
import type { KeyRef, TokenSession } from './token-session.js';

// RFC 8017 §9.2, note 1: the DER DigestInfo prefix before the hash in an EMSA-PKCS1-v1_5 signature.
const DIGEST_INFO: Readonly<Record<'sha256' | 'sha384' | 'sha512', Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** An unsigned big-endian integer as a minimal DER INTEGER (X.690 §8.3). */
function derUnsigned(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return tlv(TAG.INTEGER, (v[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/**
 * PKCS#11 v2.40 §2.3.1 returns an ECDSA signature as r || s, each as long as the curve order; X.509
 * wants the DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480 §2.2 / RFC 3279 §2.2.3).
 */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw caError('ERR_SIGNER', `signer: the token returned an ECDSA signature of ${raw.length} bytes`);
  const half = raw.length / 2;
  return tlv(TAG.SEQUENCE, derUnsigned(raw.subarray(0, half)), derUnsigned(raw.subarray(half)));
}

/**
 * A Signer over a private key in a PKCS#11 token. The digest is computed here and only the digest goes
 * to the token: SoftHSM and many HSMs have no combined ECDSA-with-SHA-2 mechanism, and RSA uses
 * CKM_RSA_PKCS over the DigestInfo, which every token offers.
 */
export function pkcs11Signer(session: TokenSession, key: KeyRef, keyType: KeyType, publicKey: KeyObject): Signer {
  const b = session.binding;
  const signatureAlgorithm = signatureAlgorithmFor(keyType);
  const hash = signatureAlgorithm.hash;
  const ec = keyType === 'ec-p256' || keyType === 'ec-p384';
  const maxLength = keyType === 'ec-p256' ? 64 : keyType === 'ec-p384' ? 96 : Number(keyType.slice(4)) / 8;
  const mechanism = { mechanism: ec ? b.CKM_ECDSA : b.CKM_RSA_PKCS };
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return Object.freeze({
    keyType,
    publicKey,
    signatureAlgorithm,
    spki,
    sign(data: Uint8Array): Buffer {
      const digest = createHash(hash).update(data).digest();
      let out: Buffer;
      try {
        out = session.sign(key, mechanism, ec ? digest : Buffer.concat([DIGEST_INFO[hash], digest]), maxLength);
      } catch (cause) {
        throw caError('ERR_SIGNER', `signer: the CA key in token ${session.tokenLabel} failed to sign`, { cause });
      }
      return ec ? ecdsaRawToDer(out) : out;
    },
  });
}

/**
 * Signs a random challenge and verifies it with the public key: proves that the private key object and
 * the public key we read belong together before the CA signs anything with them.
 */
export function checkKeyPair(signer: Signer, name: string): void {
  const challenge = randomBytes(32);
  const signature = signer.sign(challenge);
  if (!verify(signer.signatureAlgorithm.hash, challenge, signer.publicKey, signature)) {
    throw caError('ERR_PKCS11_KEY_POLICY', `pkcs11: the private key ${name} does not match its public key object; the token holds a mismatched pair`);
  }
}

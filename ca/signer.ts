import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { caError } from './errors.js';
import { keyTypeOf, type KeyType } from './key-type.js';
import { signatureAlgorithmFor, type SignatureAlgorithm } from './signature-algorithm.js';

/**
 * Something that signs certificates with a CA key it may not reveal (a PEM file, a Kubernetes Secret,
 * an HSM). `sign` is synchronous: the PEM backend signs in ~30 µs and the hot issuance path must not pay
 * a promise per certificate; a backend that can only sign asynchronously wraps a worker of its own.
 */
export interface Signer {
  readonly keyType: KeyType;
  readonly publicKey: KeyObject;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** SubjectPublicKeyInfo DER of the public key. */
  readonly spki: Buffer;
  /** Signs `data` (hashing it with `signatureAlgorithm.hash`); DER-encoded ECDSA signatures. */
  sign(data: Uint8Array): Buffer;
}

/**
 * A Signer over a private key held in this process (the PEM-file and Kubernetes Secret backends).
 *
 * @example const signer = keyObjectSigner(generateKey('ec-p256').privateKey);
 */
export function keyObjectSigner(privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private') throw new TypeError('keyObjectSigner: a private key is required');
  const keyType = keyTypeOf(privateKey);
  const signatureAlgorithm = signatureAlgorithmFor(keyType);
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const hash = signatureAlgorithm.hash;
  return Object.freeze({
    keyType,
    publicKey,
    signatureAlgorithm,
    spki,
    sign(data: Uint8Array): Buffer {
      try {
        return cryptoSign(hash, data, privateKey);
      } catch (cause) {
        throw caError('ERR_SIGNER', 'signer: the CA key failed to sign', { cause });
      }
    },
  });
}

/** Fingerprint of a public key: lowercase hex SHA-256 of its SPKI DER (ledger and logs use it as the key id). */
export function keyId(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

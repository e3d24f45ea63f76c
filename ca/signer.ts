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
  /**
   * The same signature computed off the event loop (Node's callback `crypto.sign` runs on the libuv
   * thread pool, so the CA's signing uses every core: docs/architecture.md §4). Absent for backends
   * that sign elsewhere already (PKCS#11: the token signs, `sign` only waits for it); callers then use `sign`.
   */
  signAsync?(data: Uint8Array): Promise<Buffer>;
}

/**
 * Signs with `signer.signAsync` when it has one, else with `sign` on this thread.
 *
 * @example const signature = await signOffThread(authority.signer, tbs);
 */
export function signOffThread(signer: Signer, data: Uint8Array): Promise<Buffer> {
  if (signer.signAsync) return signer.signAsync(data);
  try {
    return Promise.resolve(signer.sign(data));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The private key behind each keyObjectSigner, for the CA's signing workers only (signing-workers.ts):
 * a KeyObject crosses to a worker thread by postMessage without its bytes ever being exported. Kept
 * here, not on the Signer, so no Signer holder (a log line, a test printing it) can reach the key.
 */
const IN_PROCESS_KEYS = new WeakMap<Signer, KeyObject>();

/**
 * The private key a signer holds in this process (keyObjectSigner), or undefined for one that signs
 * elsewhere (PKCS#11): such a signer cannot be moved to a worker thread.
 */
export function inProcessKeyOf(signer: Signer): KeyObject | undefined {
  return IN_PROCESS_KEYS.get(signer);
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
  const signer: Signer = Object.freeze({
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
    signAsync(data: Uint8Array): Promise<Buffer> {
      return new Promise((resolve, reject) =>
        cryptoSign(hash, data, privateKey, (err, signature) => (err ? reject(caError('ERR_SIGNER', 'signer: the CA key failed to sign', { cause: err })) : resolve(signature))),
      );
    },
  });
  IN_PROCESS_KEYS.set(signer, privateKey);
  return signer;
}

/** Fingerprint of a public key: lowercase hex SHA-256 of its SPKI DER (ledger and logs use it as the key id). */
export function keyId(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

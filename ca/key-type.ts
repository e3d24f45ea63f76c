import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { caError } from './errors.js';

/** Key algorithms the CA accepts for its own keys (docs/architecture.md §3). */
export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

/** Narrows user input (a flag or config value) to a KeyType, listing the accepted values when it is not. */
export function parseKeyType(text: string): KeyType {
  if ((KEY_TYPES as readonly string[]).includes(text)) return text as KeyType;
  throw caError('ERR_KEY_TYPE', `keys: unknown key type "${text}", want one of ${KEY_TYPES.join(', ')}`);
}

/**
 * Generates a fresh key pair of the given type.
 *
 * @example const { privateKey } = generateKey('ec-p256');
 */
export function generateKey(keyType: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (keyType) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: Number(keyType.slice(4)), publicExponent: 0x10001 });
  }
}

/** The KeyType of an existing key (a plugged-in CA key), or an ERR_KEY_TYPE error naming what it is. */
export function keyTypeOf(key: KeyObject): KeyType {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (d.namedCurve === 'prime256v1') return 'ec-p256';
    if (d.namedCurve === 'secp384r1') return 'ec-p384';
    throw caError('ERR_KEY_TYPE', `keys: EC curve ${d.namedCurve ?? 'unknown'} is not supported, want P-256 or P-384`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength ?? 0;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa-${bits}` as KeyType;
    throw caError('ERR_KEY_TYPE', `keys: RSA-${bits} is not supported, want 2048, 3072 or 4096 bits`);
  }
  throw caError('ERR_KEY_TYPE', `keys: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported, want EC P-256/P-384 or RSA`);
}

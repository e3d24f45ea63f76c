import { createPrivateKey } from 'node:crypto';
import { caError } from './errors.js';
import type { KeyMaterial, KeyProvider } from './key-provider.js';
import { generateKey, type KeyType } from './key-type.js';
import { keyObjectSigner, type Signer } from './signer.js';

/**
 * Keys made and held in this process (docs/architecture.md §8): the material is the PKCS#8 PEM private
 * key, which the CA state store keeps (a 0600 file, a Kubernetes Secret). `label` is not kept anywhere.
 *
 * @example const { signer, material } = await softwareKeyProvider.generate('ec-p256', 'castellan-root-1');
 */
export const softwareKeyProvider: KeyProvider = Object.freeze({
  description: 'software',

  async generate(keyType: KeyType, _label: string): Promise<{ signer: Signer; material: KeyMaterial }> {
    const { privateKey } = generateKey(keyType);
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    return { signer: keyObjectSigner(privateKey), material: Object.freeze({ kind: 'pem', pem }) };
  },

  async open(material: KeyMaterial): Promise<Signer> {
    if (material.kind !== 'pem') {
      throw caError('ERR_KEY_MATERIAL', `keys: the CA key is ${material.kind} material, but this CA uses software keys; configure the ${material.kind} key provider`);
    }
    let key;
    try {
      key = createPrivateKey({ key: material.pem, format: 'pem' });
    } catch (cause) {
      throw caError('ERR_KEY_FILE', 'keys: the stored CA key is not a PEM private key (encrypted keys are not supported)', { cause });
    }
    return keyObjectSigner(key); // ERR_KEY_TYPE for a key the CA does not sign with
  },

  async close(): Promise<void> {},
});

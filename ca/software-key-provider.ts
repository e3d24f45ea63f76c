import { caError } from './errors.js';
import { parsePrivateKeyPem } from './key-files.js';
import type { KeyMaterial, KeyProvider } from './key-provider.js';
import { generateKey } from './key-type.js';
import { keyObjectSigner } from './signer.js';

/**
 * Keys made and held in this process, stored as PKCS#8 PEM (the directory and Kubernetes Secret stores).
 *
 * @example const { signer, material } = await softwareKeyProvider.generate('ec-p256', 'castellan-root-1');
 */
export const softwareKeyProvider: KeyProvider = Object.freeze({
  description: 'software',
  async generate(keyType: Parameters<KeyProvider['generate']>[0]) {
    const privateKey = generateKey(keyType).privateKey;
    const material: KeyMaterial = { kind: 'pem', pem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string };
    return { signer: keyObjectSigner(privateKey), material };
  },
  async open(material: KeyMaterial) {
    if (material.kind !== 'pem') {
      throw caError('ERR_KEY_FILE', `keys: this CA key is kept in a PKCS#11 token (${material.uri}); configure keys.pkcs11 (module, token, PIN) to use it`);
    }
    return keyObjectSigner(parsePrivateKeyPem(material.pem, 'the stored CA key'));
  },
  async close() {},
});

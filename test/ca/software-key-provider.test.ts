import { createPrivateKey, createPublicKey, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KEY_TYPES, softwareKeyProvider } from '../../ca/index.js';
import { asyncCodeOf } from '../helpers/error-code.js';

describe('software key provider', () => {
  for (const keyType of KEY_TYPES.filter((t) => t !== 'rsa-4096')) {
    it(`ok/${keyType}: PKCS#8 PEM material that opens to the same key, and signatures Node verifies`, async () => {
      const { signer, material } = await softwareKeyProvider.generate(keyType, 'ignored');
      expect(signer.keyType).toBe(keyType);
      if (material.kind !== 'pem') throw new Error('want pem material');
      expect(material.pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(createPrivateKey(material.pem).asymmetricKeyType).toBe(keyType.startsWith('ec') ? 'ec' : 'rsa');
      const reopened = await softwareKeyProvider.open(material);
      expect(reopened.spki.equals(signer.spki)).toBe(true);
      const data = randomBytes(200);
      expect(verify(signer.signatureAlgorithm.hash, data, createPublicKey({ key: signer.spki, format: 'der', type: 'spki' }), reopened.sign(data))).toBe(true);
    });
  }

  it('fail/pkcs11 material, a PEM that is no key, a key type the CA does not sign with', async () => {
    expect(await asyncCodeOf(softwareKeyProvider.open({ kind: 'pkcs11', uri: 'pkcs11:token=t;id=%01' }))).toBe('ERR_KEY_MATERIAL');
    expect(await asyncCodeOf(softwareKeyProvider.open({ kind: 'pem', pem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }))).toBe('ERR_KEY_FILE');
    const { generateKeyPairSync } = await import('node:crypto');
    const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(await asyncCodeOf(softwareKeyProvider.open({ kind: 'pem', pem: ed }))).toBe('ERR_KEY_TYPE');
  });
});

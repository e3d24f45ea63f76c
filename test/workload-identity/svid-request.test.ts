// createSvidRequest writes PKCS#10 in DER itself (no X.509 library in the agent): checked here with
// openssl and with @peculiar/asn1-csr, readers that share no code with it.
import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { describe, expect, it } from 'vitest';
import { createSvidRequest, pemEncode, SpiffeId } from '../../workload-identity/index.js';
import { openssl } from '../helpers/test-ca.js';

const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');
// The project's PEM codec: a hand-made one left an empty line before END whenever the base64 filled its
// last line exactly (ECDSA signatures vary in length), and openssl refused the request.
const pem = (der: Buffer) => pemEncode(der, 'CERTIFICATE REQUEST');

describe('createSvidRequest', () => {
  const keys = {
    'ec-p256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    'ec-p384': generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
    'rsa-2048': generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  };
  for (const [kind, key] of Object.entries(keys)) {
    it(`ok/${kind}: openssl verifies the self-signature and reads the critical URI and DNS SANs and the empty subject`, async () => {
      const der = await createSvidRequest(key, ID, ['web.default.svc']);
      const r = openssl(['req', '-verify', '-noout', '-text', '-inform', 'PEM'], pem(der));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr + r.stdout).toMatch(/verify OK/i);
      expect(r.stdout).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web, DNS:web\.default\.svc/);
      expect(r.stdout).toMatch(/Subject:\s*\n/);
      const parsed = AsnConvert.parse(der, CertificationRequest);
      expect(parsed.certificationRequestInfo.version).toBe(0);
      expect(parsed.certificationRequestInfo.attributes).toHaveLength(1);
    });
  }

  it('ok/without an identity the request has no attributes, and openssl verifies it', async () => {
    const der = await createSvidRequest(keys['ec-p256']);
    const r = openssl(['req', '-verify', '-noout', '-text', '-inform', 'PEM'], pem(der));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/Subject Alternative Name/);
    expect(AsnConvert.parse(der, CertificationRequest).certificationRequestInfo.attributes).toHaveLength(0);
  });

  it('fail/public keys, ed25519 and P-521 keys are refused with a TypeError', async () => {
    await expect(createSvidRequest(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ID)).rejects.toThrow(TypeError);
    await expect(createSvidRequest(generateKeyPairSync('ed25519').privateKey, ID)).rejects.toThrow(TypeError);
    await expect(createSvidRequest(generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, ID)).rejects.toThrow(TypeError);
  });
});

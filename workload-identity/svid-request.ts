import 'reflect-metadata';
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { SpiffeId } from './spiffe-id.js';

type WebCryptoKey = webcrypto.CryptoKey;

function importParams(key: KeyObject): { importAlg: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams; signAlg: Record<string, unknown> } {
  if (key.asymmetricKeyType === 'ec') {
    const namedCurve = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
    return { importAlg: { name: 'ECDSA', namedCurve }, signAlg: { name: 'ECDSA', hash: namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' } };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAlg: alg, signAlg: alg };
  }
  throw new TypeError(`createSvidRequest: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported`);
}

/**
 * A PKCS#10 request (DER) for an X509-SVID, signed with `privateKey` (EC P-256/P-384 or RSA). The
 * subject is empty; when `id` is given it is requested as the only URI SAN, as istio-agent does (DNS
 * names after it are only for servers whose CA policy grants them, such as the CA's own). The
 * CA takes the identity from the caller's credentials anyway (DESIGN §2); the SAN lets it refuse a
 * request made for another identity by mistake.
 *
 * @example const der = await createSvidRequest(privateKey, SpiffeId.parse('spiffe://td/ns/a/sa/b'));
 */
export async function createSvidRequest(privateKey: KeyObject, id?: SpiffeId, dnsNames: readonly string[] = []): Promise<Buffer> {
  if (privateKey.type !== 'private') throw new TypeError('createSvidRequest: a private key is required');
  const { importAlg, signAlg } = importParams(privateKey);
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const publicSpki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const subtle = webcrypto.subtle;
  const keys = {
    privateKey: await subtle.importKey('pkcs8', pkcs8, importAlg, false, ['sign']),
    publicKey: await subtle.importKey('spki', publicSpki, importAlg, true, ['verify']),
  } satisfies { privateKey: WebCryptoKey; publicKey: WebCryptoKey };
  const names = [...(id ? [{ type: 'url' as const, value: id.toString() }] : []), ...dnsNames.map((value) => ({ type: 'dns' as const, value }))];
  const extensions = names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, true)] : [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: '', keys, signingAlgorithm: signAlg, extensions } as unknown as x509.Pkcs10CertificateRequestCreateParams,
    webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1],
  );
  return Buffer.from(csr.rawData);
}

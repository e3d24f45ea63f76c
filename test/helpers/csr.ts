import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type TestKeyKind = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-1024' | 'rsa-2048' | 'rsa-3072';

export interface TestCsrOptions {
  key?: TestKeyKind;
  uris?: string[];
  dns?: string[];
  emails?: string[];
  /** Adds basicConstraints with this cA value. */
  ca?: boolean;
  /** Adds keyUsage with these flags. */
  keyUsage?: x509.KeyUsageFlags;
  subject?: string;
}

function algorithms(kind: TestKeyKind): { gen: EcKeyGen | RsaKeyGen; sign: Record<string, unknown> } {
  if (kind.startsWith('ec-')) {
    const namedCurve = { 'ec-p256': 'P-256', 'ec-p384': 'P-384', 'ec-p521': 'P-521' }[kind as 'ec-p256']!;
    const hash = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' }[namedCurve]!;
    return { gen: { name: 'ECDSA', namedCurve }, sign: { name: 'ECDSA', hash } };
  }
  const modulusLength = Number(kind.slice(4));
  const gen = { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return { gen, sign: gen };
}
type EcKeyGen = { name: string; namedCurve: string };
type RsaKeyGen = { name: string; modulusLength: number; publicExponent: Uint8Array; hash: string };

/** A key pair generated now (tests never ship keys). */
export async function testKeys(kind: TestKeyKind = 'ec-p256'): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithms(kind).gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A PKCS#10 request built with @peculiar/x509 (an independent encoder), as PEM plus its keys. */
export async function testCsr(o: TestCsrOptions = {}): Promise<{ pem: string; der: Buffer; keys: webcrypto.CryptoKeyPair }> {
  const kind = o.key ?? 'ec-p256';
  const keys = await testKeys(kind);
  const extensions: x509.Extension[] = [];
  const names: x509.JsonGeneralName[] = [
    ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (o.ca !== undefined) extensions.push(new x509.BasicConstraintsExtension(o.ca, undefined, true));
  if (o.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(o.keyUsage, true));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: o.subject ?? '',
    keys,
    signingAlgorithm: algorithms(kind).sign,
    extensions,
  } as unknown as x509.Pkcs10CertificateRequestCreateParams);
  return { pem: csr.toString('pem'), der: Buffer.from(csr.rawData), keys };
}

/** The same CSR with one byte of its signature flipped. */
export function tamperSignature(der: Buffer): Buffer {
  const out = Buffer.from(der);
  out[out.length - 5] ^= 0x01;
  return out;
}

import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Template } from 'pkcs11js';
import { oidValue, TAG, tlv } from '../der.js';
import { caError } from '../errors.js';
import { keyTypeOf, type KeyType } from '../key-type.js';
import type { Binding } from './binding.js';

// RFC 5480 §2.1.1.1: the named curves, as the DER OIDs that CKA_EC_PARAMS holds (PKCS#11 v2.40 §2.3.3).
const CURVES: Readonly<Record<'ec-p256' | 'ec-p384', { oid: string; fieldBytes: number }>> = {
  'ec-p256': { oid: '1.2.840.10045.3.1.7', fieldBytes: 32 },
  'ec-p384': { oid: '1.3.132.0.34', fieldBytes: 48 },
};
const EC_PUBLIC_KEY_OID = '1.2.840.10045.2.1';
const curveParams = (keyType: 'ec-p256' | 'ec-p384') => tlv(TAG.OID, oidValue(CURVES[keyType].oid));

/** The mechanism and templates that make a CA key pair in the token (PKCS#11 v2.40 §4.8–4.9). */
export function generationTemplates(
  b: Binding,
  keyType: KeyType,
  id: Buffer,
  label: string,
): {
  mechanism: { mechanism: number };
  publicTemplate: Template;
  privateTemplate: Template;
} {
  const common = [
    { type: b.CKA_TOKEN, value: true },
    { type: b.CKA_ID, value: id },
    { type: b.CKA_LABEL, value: label },
  ];
  const publicTemplate: Template = [...common, { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY }, { type: b.CKA_PRIVATE, value: false }, { type: b.CKA_VERIFY, value: true }];
  // The private key can sign and nothing else, and never leaves the token in any form.
  const privateTemplate: Template = [
    ...common,
    { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY },
    { type: b.CKA_PRIVATE, value: true },
    { type: b.CKA_SENSITIVE, value: true },
    { type: b.CKA_EXTRACTABLE, value: false },
    { type: b.CKA_SIGN, value: true },
    { type: b.CKA_DECRYPT, value: false },
    { type: b.CKA_UNWRAP, value: false },
    { type: b.CKA_DERIVE, value: false },
  ];
  if (keyType === 'ec-p256' || keyType === 'ec-p384') {
    publicTemplate.push({ type: b.CKA_KEY_TYPE, value: b.CKK_EC }, { type: b.CKA_EC_PARAMS, value: curveParams(keyType) });
    privateTemplate.push({ type: b.CKA_KEY_TYPE, value: b.CKK_EC });
    return { mechanism: { mechanism: b.CKM_EC_KEY_PAIR_GEN }, publicTemplate, privateTemplate };
  }
  publicTemplate.push(
    { type: b.CKA_KEY_TYPE, value: b.CKK_RSA },
    { type: b.CKA_MODULUS_BITS, value: Number(keyType.slice(4)) },
    { type: b.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
  );
  privateTemplate.push({ type: b.CKA_KEY_TYPE, value: b.CKK_RSA });
  return { mechanism: { mechanism: b.CKM_RSA_PKCS_KEY_PAIR_GEN }, publicTemplate, privateTemplate };
}

/** A CK_BBOOL attribute value. */
export const isTrue = (v: Buffer | undefined): boolean => v !== undefined && v.length > 0 && v[0] !== 0;

/** A CK_ULONG attribute value (native byte order, which is little-endian on every platform Node runs on here). */
export function ulong(v: Buffer | undefined): number {
  if (!v || v.length === 0) return -1;
  return v.length >= 6 ? v.readUIntLE(0, 6) : v.readUIntLE(0, v.length);
}

/**
 * The public key of a token key pair, from the public key object's attributes: CKA_EC_PARAMS and
 * CKA_EC_POINT, or CKA_MODULUS and CKA_PUBLIC_EXPONENT. Throws ERR_KEY_TYPE for keys the CA does not
 * sign with.
 */
export function publicKeyFrom(b: Binding, keyTypeId: number, attrs: (type: number) => Buffer | undefined, name: string): { keyType: KeyType; publicKey: KeyObject } {
  if (keyTypeId === b.CKK_EC) {
    const params = attrs(b.CKA_EC_PARAMS);
    const keyType = (Object.keys(CURVES) as ('ec-p256' | 'ec-p384')[]).find((t) => params?.equals(curveParams(t)));
    if (!keyType)
      throw caError('ERR_KEY_TYPE', `pkcs11: key ${name} is on an EC curve the CA does not sign with (CKA_EC_PARAMS ${params?.toString('hex') ?? 'absent'}); want P-256 or P-384`);
    const point = ecPoint(attrs(b.CKA_EC_POINT), CURVES[keyType].fieldBytes, name);
    const algorithm = tlv(TAG.SEQUENCE, tlv(TAG.OID, oidValue(EC_PUBLIC_KEY_OID)), curveParams(keyType));
    const spki = tlv(TAG.SEQUENCE, algorithm, tlv(TAG.BIT_STRING, Buffer.from([0]), point));
    return { keyType, publicKey: importSpki(spki, name) };
  }
  if (keyTypeId === b.CKK_RSA) {
    const n = attrs(b.CKA_MODULUS);
    const e = attrs(b.CKA_PUBLIC_EXPONENT);
    if (!n || !e) throw caError('ERR_PKCS11_KEY_POLICY', `pkcs11: the public key of ${name} has no modulus or exponent`);
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
    } catch (cause) {
      throw caError('ERR_PKCS11_KEY_POLICY', `pkcs11: the public key of ${name} is not a valid RSA key`, { cause });
    }
    return { keyType: keyTypeOf(publicKey), publicKey };
  }
  throw caError('ERR_KEY_TYPE', `pkcs11: key ${name} has CKA_KEY_TYPE 0x${keyTypeId.toString(16)}; the CA signs with EC (P-256, P-384) or RSA keys`);
}

/** CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (PKCS#11 v2.40 §2.3.3); some modules return the bare point. */
function ecPoint(value: Buffer | undefined, fieldBytes: number, name: string): Buffer {
  const len = 2 * fieldBytes + 1;
  if (value?.length === len && value[0] === 0x04) return value;
  if (value?.length === len + 2 && value[0] === TAG.OCTET_STRING && value[1] === len && value[2] === 0x04) return value.subarray(2);
  throw caError('ERR_PKCS11_KEY_POLICY', `pkcs11: the public key of ${name} has no uncompressed CKA_EC_POINT (is its public key object missing?)`);
}

function importSpki(spki: Buffer, name: string): KeyObject {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (cause) {
    throw caError('ERR_PKCS11_KEY_POLICY', `pkcs11: the public key of ${name} is not a valid EC point`, { cause });
  }
}

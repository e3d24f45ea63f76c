import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
// Type-only: this module reads the certificate's DER with @peculiar/asn1-x509 and never loads
// @peculiar/x509 itself, so it does not depend on the reflect-metadata polyfill.
import type { X509Certificate } from '@peculiar/x509';
import { CastellanError, isCastellanError } from './errors.js';
import { SpiffeId, type TrustDomain } from './spiffe-id.js';

/** Every X509-SVID rule a certificate can break; one code per rule. */
export type X509SvidErrorCode =
  | 'ERR_SVID_MALFORMED'
  | 'ERR_SVID_MALFORMED_EXTENSION'
  | 'ERR_SVID_DUPLICATE_EXTENSION'
  | 'ERR_SVID_NO_URI_SAN'
  | 'ERR_SVID_MULTIPLE_URI_SANS'
  | 'ERR_SVID_BAD_SPIFFE_ID'
  | 'ERR_SVID_SAN_NOT_CRITICAL'
  | 'ERR_SVID_NO_BASIC_CONSTRAINTS'
  | 'ERR_SVID_NO_KEY_USAGE'
  | 'ERR_SVID_KEY_USAGE_NOT_CRITICAL'
  | 'ERR_SVID_LEAF_NO_PATH'
  | 'ERR_SVID_LEAF_IS_CA'
  | 'ERR_SVID_LEAF_PATH_LEN'
  | 'ERR_SVID_LEAF_NO_DIGITAL_SIGNATURE'
  | 'ERR_SVID_LEAF_KEY_CERT_SIGN'
  | 'ERR_SVID_LEAF_CRL_SIGN'
  | 'ERR_SVID_EKU_MISSING_SERVER_AUTH'
  | 'ERR_SVID_EKU_MISSING_CLIENT_AUTH'
  | 'ERR_SVID_SIGNING_NOT_CA'
  | 'ERR_SVID_SIGNING_BASIC_CONSTRAINTS_NOT_CRITICAL'
  | 'ERR_SVID_SIGNING_NO_KEY_CERT_SIGN'
  | 'ERR_SVID_SIGNING_HAS_PATH'
  | 'ERR_SVID_TRUST_DOMAIN_MISMATCH';

type Role = 'leaf' | 'signing certificate';

interface Ext<T> {
  readonly critical: boolean;
  readonly value: T;
}

/** The parts of a certificate the X509-SVID rules look at, decoded straight from its DER. */
interface Inspected {
  readonly role: Role;
  readonly serial: string;
  readonly subjectEmpty: boolean;
  readonly san: Ext<SubjectAlternativeName> | undefined;
  readonly basicConstraints: Ext<BasicConstraints> | undefined;
  readonly keyUsage: Ext<number> | undefined;
  readonly extKeyUsage: Ext<readonly string[]> | undefined;
}

/**
 * Checks a leaf X509-SVID against the X509-SVID spec (§2, §3.1, §4.1, §4.3, §4.4, §5.2) and returns
 * its SPIFFE ID. It does not verify signatures or validity dates; that is path validation.
 *
 * @example
 *   const id = validateX509SvidLeaf(new X509Certificate(pem));
 *   id.toString(); // 'spiffe://cluster.local/ns/shop/sa/cart'
 */
export function validateX509SvidLeaf(cert: X509Certificate): SpiffeId {
  const c = inspect(cert, 'leaf');
  const id = spiffeIdFromSan(c);
  if (id === undefined) throw fail(c, 'ERR_SVID_NO_URI_SAN', 'leaf has no URI SAN, want exactly 1 (the SPIFFE ID)');
  // X509-SVID §3.1, §5.2: only a leaf identifies a workload, so its ID must have a path.
  if (id.path === '') {
    throw fail(c, 'ERR_SVID_LEAF_NO_PATH', `leaf SPIFFE ID "${id.toString()}" has no path; a leaf ID names a workload, e.g. "${id.toString()}/ns/<ns>/sa/<sa>"`);
  }

  const bc = requireBasicConstraints(c);
  // X509-SVID §4.1, §5.2: cA decides leaf versus signing certificate.
  if (bc.value.cA) throw fail(c, 'ERR_SVID_LEAF_IS_CA', 'leaf has basicConstraints cA=true, want cA=false');
  // RFC 5280 §4.2.1.9: pathLenConstraint is meaningless, and forbidden, without cA.
  if (bc.value.pathLenConstraint !== undefined) {
    throw fail(c, 'ERR_SVID_LEAF_PATH_LEN', `leaf has basicConstraints pathLenConstraint=${bc.value.pathLenConstraint}, which only a CA may set; remove it`);
  }

  const ku = requireCriticalKeyUsage(c);
  // X509-SVID §4.3, §5.2: a leaf signs handshakes and must never be able to sign certificates or CRLs.
  if ((ku & KeyUsageFlags.digitalSignature) === 0) {
    throw fail(c, 'ERR_SVID_LEAF_NO_DIGITAL_SIGNATURE', 'leaf keyUsage lacks digitalSignature; set it');
  }
  if ((ku & KeyUsageFlags.keyCertSign) !== 0) {
    throw fail(c, 'ERR_SVID_LEAF_KEY_CERT_SIGN', 'leaf keyUsage has keyCertSign, which a leaf must not set');
  }
  if ((ku & KeyUsageFlags.cRLSign) !== 0) {
    throw fail(c, 'ERR_SVID_LEAF_CRL_SIGN', 'leaf keyUsage has cRLSign, which a leaf must not set');
  }

  // X509-SVID §4.4: EKU is optional (SHOULD), but when present it must allow both TLS roles.
  if (c.extKeyUsage !== undefined) {
    const usages = c.extKeyUsage.value;
    if (!usages.includes(id_kp_serverAuth)) {
      throw fail(c, 'ERR_SVID_EKU_MISSING_SERVER_AUTH', 'leaf extKeyUsage lacks serverAuth; set both serverAuth and clientAuth or omit the extension');
    }
    if (!usages.includes(id_kp_clientAuth)) {
      throw fail(c, 'ERR_SVID_EKU_MISSING_CLIENT_AUTH', 'leaf extKeyUsage lacks clientAuth; set both serverAuth and clientAuth or omit the extension');
    }
  }
  return id;
}

/**
 * Checks an X509-SVID signing (CA) certificate against the X509-SVID spec (§3.2, §4.1, §4.3). When it
 * carries a URI SAN, that must be a trust domain ID (no path), equal to `trustDomain` when given.
 *
 * @example
 *   validateX509SvidSigningCert(intermediate, TrustDomain.of('cluster.local')); // throws on any violation
 */
export function validateX509SvidSigningCert(cert: X509Certificate, trustDomain?: TrustDomain): void {
  const c = inspect(cert, 'signing certificate');

  const bc = requireBasicConstraints(c);
  // X509-SVID §3.2, §4.1: a signing certificate is a CA certificate.
  if (!bc.value.cA) throw fail(c, 'ERR_SVID_SIGNING_NOT_CA', 'signing certificate has basicConstraints cA=false, want cA=true');
  // RFC 5280 §4.2.1.9: CA certificates must mark basicConstraints critical.
  if (!bc.critical) {
    throw fail(c, 'ERR_SVID_SIGNING_BASIC_CONSTRAINTS_NOT_CRITICAL', 'signing certificate basicConstraints is not critical; mark it critical');
  }

  const ku = requireCriticalKeyUsage(c);
  // X509-SVID §3.2, §4.3: keyCertSign is what makes it a signing certificate; cRLSign is optional.
  if ((ku & KeyUsageFlags.keyCertSign) === 0) {
    throw fail(c, 'ERR_SVID_SIGNING_NO_KEY_CERT_SIGN', 'signing certificate keyUsage lacks keyCertSign; set it');
  }

  // X509-SVID §3.2: a signing certificate SHOULD be an SVID; if it is, its ID is a trust domain ID.
  const id = spiffeIdFromSan(c);
  if (id === undefined) return;
  if (id.path !== '') {
    throw fail(c, 'ERR_SVID_SIGNING_HAS_PATH', `signing certificate SPIFFE ID "${id.toString()}" has a path; want the trust domain ID "${id.trustDomain.idString()}"`);
  }
  if (trustDomain !== undefined && !id.isMemberOf(trustDomain)) {
    throw fail(c, 'ERR_SVID_TRUST_DOMAIN_MISMATCH', `signing certificate belongs to trust domain "${id.trustDomain.name}", want "${trustDomain.name}"`, {
      want: trustDomain.name,
      got: id.trustDomain.name,
    });
  }
}

/** The certificate's single URI SAN as a SPIFFE ID; undefined when it has no URI SAN at all. */
function spiffeIdFromSan(c: Inspected): SpiffeId | undefined {
  const uris = (c.san?.value ?? []).flatMap((name) => (name.uniformResourceIdentifier === undefined ? [] : [name.uniformResourceIdentifier]));
  // X509-SVID §2: exactly one URI SAN, so there is exactly one identity to authorise.
  if (uris.length === 0) return undefined;
  if (uris.length > 1) throw fail(c, 'ERR_SVID_MULTIPLE_URI_SANS', `${c.role} has ${uris.length} URI SANs, want exactly 1`);
  const uri = uris[0] ?? '';
  let id: SpiffeId;
  try {
    id = SpiffeId.parse(uri);
  } catch (err) {
    if (!isCastellanError(err)) throw err;
    throw fail(c, 'ERR_SVID_BAD_SPIFFE_ID', `${c.role} URI SAN is not a valid SPIFFE ID: ${err.message.replace(/^spiffeid: /, '')}`, {}, err);
  }
  // X509-SVID §3.1 and RFC 5280 §4.1.2.6: with an empty subject the SAN carries the whole identity
  // and must be critical.
  if (c.subjectEmpty && c.san?.critical !== true) {
    throw fail(c, 'ERR_SVID_SAN_NOT_CRITICAL', `${c.role} has an empty subject, so its subjectAltName must be marked critical`);
  }
  return id;
}

function requireBasicConstraints(c: Inspected): Ext<BasicConstraints> {
  // X509-SVID §4.1: without basicConstraints a certificate is neither clearly a leaf nor a CA.
  if (c.basicConstraints === undefined) {
    throw fail(c, 'ERR_SVID_NO_BASIC_CONSTRAINTS', `${c.role} has no basicConstraints extension; add it (cA=${c.role === 'leaf' ? 'false' : 'true'})`);
  }
  return c.basicConstraints;
}

function requireCriticalKeyUsage(c: Inspected): number {
  // X509-SVID §4.3: keyUsage is mandatory on every SVID and must be critical.
  if (c.keyUsage === undefined) throw fail(c, 'ERR_SVID_NO_KEY_USAGE', `${c.role} has no keyUsage extension; add it and mark it critical`);
  if (!c.keyUsage.critical) throw fail(c, 'ERR_SVID_KEY_USAGE_NOT_CRITICAL', `${c.role} keyUsage is not critical; mark it critical`);
  return c.keyUsage.value;
}

function inspect(cert: X509Certificate, role: Role): Inspected {
  const raw: unknown = (cert as { rawData?: unknown } | null)?.rawData;
  if (!(raw instanceof ArrayBuffer)) throw new TypeError('x509svid: expected an X509Certificate from @peculiar/x509');
  let parsed: Certificate;
  try {
    parsed = AsnConvert.parse(raw, Certificate);
  } catch (err) {
    throw fail({ role, serial: '' }, 'ERR_SVID_MALFORMED', `${role} is not a well-formed X.509 certificate`, {}, err);
  }
  const tbs = parsed.tbsCertificate;
  const head = { role, serial: serialHex(tbs.serialNumber), subjectEmpty: tbs.subject.length === 0 };

  const found = new Map<string, Ext<ArrayBuffer>>();
  for (const ext of tbs.extensions ?? []) {
    // RFC 5280 §4.2: one instance per extension; with two, which one a validator reads is arbitrary.
    if (found.has(ext.extnID)) {
      throw fail(head, 'ERR_SVID_DUPLICATE_EXTENSION', `${role} has extension ${ext.extnID} more than once`, { extension: ext.extnID });
    }
    found.set(ext.extnID, { critical: ext.critical, value: ext.extnValue.buffer });
  }

  const decode = <T>(oid: string, name: string, read: (der: ArrayBuffer) => T): Ext<T> | undefined => {
    const ext = found.get(oid);
    if (ext === undefined) return undefined;
    try {
      return { critical: ext.critical, value: read(ext.value) };
    } catch (err) {
      throw fail(head, 'ERR_SVID_MALFORMED_EXTENSION', `${role} ${name} extension is not well-formed DER`, { extension: oid }, err);
    }
  };
  return {
    ...head,
    san: decode(id_ce_subjectAltName, 'subjectAltName', (der) => AsnConvert.parse(der, SubjectAlternativeName)),
    basicConstraints: decode(id_ce_basicConstraints, 'basicConstraints', (der) => AsnConvert.parse(der, BasicConstraints)),
    keyUsage: decode(id_ce_keyUsage, 'keyUsage', (der) => AsnConvert.parse(der, KeyUsage).toNumber()),
    extKeyUsage: decode(id_ce_extKeyUsage, 'extKeyUsage', (der) => [...AsnConvert.parse(der, ExtendedKeyUsage)]),
  };
}

// The serial as certificate tools print it: a DER sign-padding 0x00 in front of a high byte is not part
// of the number (X.690 §8.3.2).
function serialHex(der: ArrayBuffer): string {
  const bytes = new Uint8Array(der);
  const start = bytes.length > 1 && bytes[0] === 0x00 && (bytes[1] ?? 0) > 0x7f ? 1 : 0;
  return Buffer.from(bytes.subarray(start)).toString('hex');
}

function fail(
  c: Pick<Inspected, 'role' | 'serial'>,
  code: X509SvidErrorCode,
  what: string,
  extra: Record<string, unknown> = {},
  cause?: unknown,
): CastellanError<X509SvidErrorCode> {
  const context = { role: c.role, serial: c.serial, ...extra };
  return new CastellanError(code, `x509svid: ${what}`, cause === undefined ? { context } : { context, cause });
}

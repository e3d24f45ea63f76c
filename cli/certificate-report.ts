import { promises as fs } from 'node:fs';
import { X509Certificate as NodeCertificate, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { BasicConstraintsExtension, SubjectAlternativeNameExtension } from '@peculiar/x509';
import { isCastellanError, SpiffeId, validateX509SvidLeaf, validateX509SvidSigningCert, type TrustDomain } from '../workload-identity/index.js';
import { caError, certificateInfo, pemBlocks, type CertificateInfo } from '../ca/index.js';

/** One certificate, parsed twice: @peculiar/x509 for the X509-SVID rules, OpenSSL (node:crypto) for signatures. */
export interface LoadedCertificate {
  readonly info: CertificateInfo;
  readonly node: NodeCertificate;
}

export type SanType = 'uri' | 'dns' | 'ip' | 'email' | 'other';

export interface KeyReport {
  /** `EC`, `RSA`, `RSA-PSS`, `Ed25519`, ... */
  readonly type: string;
  /** Named curve for EC keys (`P-256`, `P-384`, `P-521`, or OpenSSL's name for others). */
  readonly curve?: string;
  /** Key size in bits, when known. */
  readonly bits?: number;
  /** For people: `EC P-256`, `RSA 2048`. */
  readonly description: string;
}

/** The X509-SVID verdict: signing-certificate rules for CA certificates, leaf rules otherwise. */
export interface SvidVerdict {
  readonly valid: boolean;
  readonly role: 'leaf' | 'signing';
  /** The SPIFFE ID in the certificate's single URI SAN, when it has one that parses (even if a rule fails). */
  readonly spiffeId?: string;
  /** The failing rule's code (`ERR_SVID_*`), when not valid. */
  readonly code?: string;
  readonly message?: string;
}

export interface CertificateReport {
  /** RFC 4514 string; empty for an empty subject (as in workload X509-SVIDs). */
  readonly subject: string;
  readonly issuer: string;
  readonly sans: readonly { readonly type: SanType; readonly value: string }[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whole seconds from now to notAfter; negative once expired. */
  readonly secondsLeft: number;
  readonly validity: 'valid' | 'expired' | 'not-yet-valid';
  readonly key: KeyReport;
  /** Lowercase hex of the serial number, as `openssl x509 -serial` prints it (no DER sign byte). */
  readonly serialHex: string;
  /** SHA-256 of the DER, as `openssl x509 -fingerprint -sha256` prints it (`AB:CD:...`). */
  readonly sha256Fingerprint: string;
  readonly ca: boolean;
  readonly pathLen?: number;
  readonly svid: SvidVerdict;
}

export interface ChainVerdict {
  readonly verified: boolean;
  /** Labels of the certificates from the first one in the file to the bundle root, when verified. */
  readonly path?: readonly string[];
  readonly error?: string;
}

export interface FileReport {
  /** The file as named on the command line. */
  readonly file: string;
  readonly certificates: readonly CertificateReport[];
  /** Only with a bundle. */
  readonly chain?: ChainVerdict;
}

/**
 * Reads every certificate in `file`: PEM (one or more CERTIFICATE blocks, in order) or one DER
 * certificate. Throws ERR_CERT_FILE naming the file when it cannot be read or holds no certificate.
 *
 * @example const certs = await readCertificateFile('chain.pem', process.cwd());
 */
export async function readCertificateFile(file: string, cwd: string): Promise<LoadedCertificate[]> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path.resolve(cwd, file));
  } catch (cause) {
    throw caError('ERR_CERT_FILE', `cert: cannot read ${file}: ${readProblem(cause)}`, { cause });
  }
  const pem = bytes.includes('-----BEGIN ');
  const ders = pem ? pemDers(file, bytes) : [bytes];
  if (ders.length === 0) throw caError('ERR_CERT_FILE', `cert: ${file} holds no CERTIFICATE PEM block`);
  return ders.map((der, i) => {
    const what = pem ? `${file}: certificate ${i + 1} is not a valid X.509 certificate` : `${file} is neither PEM nor a DER certificate`;
    try {
      // certificateInfo needs a CA error code for its own message; ours replaces it with the file's name.
      const info = certificateInfo(der, { code: 'ERR_CERT_FILE', what: 'certificate' });
      return { info, node: new NodeCertificate(info.der) };
    } catch (cause) {
      throw caError('ERR_CERT_FILE', `cert: ${what}`, { cause });
    }
  });
}

function pemDers(file: string, bytes: Buffer): Buffer[] {
  try {
    return pemBlocks(bytes.toString('latin1'), 'CERTIFICATE', { code: 'ERR_CERT_FILE', what: 'pem' });
  } catch (cause) {
    throw caError('ERR_CERT_FILE', `cert: ${file}: a CERTIFICATE PEM block is not base64`, { cause });
  }
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Describes one certificate at time `now`. `trustDomain`, when given, is the trust domain the
 * signing certificates above a leaf must belong to (X509-SVID §3.2: one trust domain per chain).
 *
 * @example const r = inspectCertificate(certs[0], new Date()); r.svid.valid
 */
export function inspectCertificate(c: LoadedCertificate, now: Date, trustDomain?: TrustDomain): CertificateReport {
  const { info, node } = c;
  const sans = (info.cert.getExtension(SubjectAlternativeNameExtension)?.names.items ?? []).map((n) => ({ type: sanType(n.type), value: n.value }));
  const bc = info.cert.getExtension(BasicConstraintsExtension);
  const t = now.getTime();
  const validity = t < info.notBefore.getTime() ? 'not-yet-valid' : t > info.notAfter.getTime() ? 'expired' : 'valid';
  return {
    subject: info.cert.subject,
    issuer: info.cert.issuer,
    sans,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    secondsLeft: Math.floor((info.notAfter.getTime() - t) / 1000),
    validity,
    key: keyReport(node),
    serialHex: info.serialHex.replace(/^00(?=[89a-f])/, ''),
    sha256Fingerprint: node.fingerprint256,
    ca: node.ca,
    ...(bc?.pathLength === undefined ? {} : { pathLen: bc.pathLength }),
    svid: svidVerdict(info, node.ca, spiffeIdOf(sans), trustDomain),
  };
}

/** The SPIFFE ID a leaf's chain must stay in: the leaf's trust domain, when the leaf has a SPIFFE ID. */
export function chainTrustDomain(leaf: CertificateReport): TrustDomain | undefined {
  return leaf.svid.role === 'leaf' && leaf.svid.spiffeId !== undefined ? SpiffeId.parse(leaf.svid.spiffeId).trustDomain : undefined;
}

function sanType(type: string): SanType {
  switch (type) {
    case 'url':
      return 'uri';
    case 'dns':
    case 'ip':
    case 'email':
      return type;
    default:
      return 'other';
  }
}

function spiffeIdOf(sans: CertificateReport['sans']): SpiffeId | undefined {
  const uris = sans.filter((s) => s.type === 'uri');
  if (uris.length !== 1) return undefined;
  try {
    return SpiffeId.parse(uris[0]!.value);
  } catch (err) {
    if (isCastellanError(err)) return undefined;
    throw err;
  }
}

function svidVerdict(info: CertificateInfo, ca: boolean, id: SpiffeId | undefined, trustDomain: TrustDomain | undefined): SvidVerdict {
  const base = { role: ca ? ('signing' as const) : ('leaf' as const), ...(id ? { spiffeId: id.toString() } : {}) };
  try {
    // X509-SVID §4.1: basicConstraints cA decides which rules apply.
    if (ca) validateX509SvidSigningCert(info.cert, trustDomain);
    else validateX509SvidLeaf(info.cert);
    return { valid: true, ...base };
  } catch (err) {
    if (!isCastellanError(err)) throw err;
    return { valid: false, ...base, code: err.code, message: err.message };
  }
}

const CURVES: Readonly<Record<string, { name: string; bits: number }>> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

function keyReport(node: NodeCertificate): KeyReport {
  let key: KeyObject;
  try {
    key = node.publicKey;
  } catch {
    return { type: 'unknown', description: 'unknown (not supported by OpenSSL)' };
  }
  const d = key.asymmetricKeyDetails ?? {};
  const kind = key.asymmetricKeyType ?? 'unknown';
  if (kind === 'ec') {
    const curve = CURVES[d.namedCurve ?? ''] ?? { name: d.namedCurve ?? 'unknown curve', bits: undefined };
    return { type: 'EC', curve: curve.name, ...(curve.bits === undefined ? {} : { bits: curve.bits }), description: `EC ${curve.name}` };
  }
  const names: Readonly<Record<string, string>> = { rsa: 'RSA', 'rsa-pss': 'RSA-PSS', dsa: 'DSA', ed25519: 'Ed25519', ed448: 'Ed448' };
  const type = names[kind] ?? kind.toUpperCase();
  const bits = d.modulusLength ?? (kind === 'ed25519' ? 256 : kind === 'ed448' ? 456 : undefined);
  if (bits === undefined) return { type, description: type };
  return { type, bits, description: kind.startsWith('ed') ? type : `${type} ${bits}` };
}

/** How a certificate is named in chain messages: its subject, else its SPIFFE ID, else its serial. */
export function certificateLabel(c: LoadedCertificate): string {
  if (c.info.cert.subject !== '') return c.info.cert.subject;
  const uri = c.info.cert.getExtension(SubjectAlternativeNameExtension)?.names.items.find((n) => n.type === 'url');
  return uri ? uri.value : `serial ${c.info.serialHex}`;
}

/**
 * Verifies `certs[0]` up to a root in `roots`, using `certs[1..]` as untrusted intermediates. RFC 5280
 * §6.1, simplified: issuer names and signatures (OpenSSL's check_issued and verify), validity at `now`,
 * every issuer a CA, pathLenConstraint. Never throws for a bad chain: the verdict says why.
 *
 * @example verifyChain(await readCertificateFile('chain.pem', cwd), bundle, new Date()).verified
 */
export function verifyChain(certs: readonly LoadedCertificate[], roots: readonly LoadedCertificate[], now: Date): ChainVerdict {
  const first = certs[0];
  if (first === undefined) throw new TypeError('verifyChain: no certificate');
  const fail = (error: string): ChainVerdict => ({ verified: false, error });
  const chain: LoadedCertificate[] = [first];
  const unused = new Set(certs.slice(1));
  const isRoot = (c: LoadedCertificate) => roots.some((r) => r.node.fingerprint256 === c.node.fingerprint256);

  for (;;) {
    const cur = chain[chain.length - 1]!;
    const dated = validityProblem(cur, now);
    if (dated) return fail(dated);
    // Each link's issuer is a CA (RFC 5280 §6.1.4 (k)) whose pathLenConstraint allows the CAs below it (§6.1.4 (m)).
    if (chain.length > 1) {
      if (!cur.node.ca) return fail(`${certificateLabel(cur)} issued ${certificateLabel(chain[chain.length - 2]!)} but is not a CA`);
      const pathLen = cur.info.cert.getExtension(BasicConstraintsExtension)?.pathLength;
      const below = chain.length - 2; // intermediate CAs between cur and the first certificate
      if (pathLen !== undefined && below > pathLen) return fail(`${certificateLabel(cur)} has pathLen ${pathLen} but ${below} CAs below it`);
    }
    if (isRoot(cur)) return { verified: true, path: chain.map(certificateLabel) };

    const root = roots.find((r) => issued(r, cur));
    if (root) {
      chain.push(root);
      continue;
    }
    const next = [...unused].find((c) => issued(c, cur));
    if (next === undefined) return fail(noIssuer(cur, [...roots, ...unused]));
    if (issued(next, next)) {
      return fail(`${certificateLabel(next)} (the file's root) is not in the bundle`);
    }
    unused.delete(next);
    chain.push(next);
  }
}

function issued(issuer: LoadedCertificate, subject: LoadedCertificate): boolean {
  try {
    // node:crypto's `a.checkIssued(b)` asks whether b issued a (names, AKI/SKI, b's keyUsage).
    return subject.node.checkIssued(issuer.node) && subject.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}

function noIssuer(cur: LoadedCertificate, candidates: readonly LoadedCertificate[]): string {
  if (cur.node.checkIssued(cur.node)) return `${certificateLabel(cur)} is self-signed and not in the bundle`;
  const named = candidates.find((c) => cur.node.checkIssued(c.node));
  if (named) return `the signature of ${certificateLabel(cur)} does not verify with the key of ${certificateLabel(named)}`;
  return `no issuer of ${certificateLabel(cur)} (issuer ${cur.info.cert.issuer || '(empty)'}) in the file or the bundle`;
}

function validityProblem(c: LoadedCertificate, now: Date): string | undefined {
  if (now.getTime() < c.info.notBefore.getTime()) return `${certificateLabel(c)} is not valid before ${c.info.notBefore.toISOString()}`;
  if (now.getTime() > c.info.notAfter.getTime()) return `${certificateLabel(c)} expired at ${c.info.notAfter.toISOString()}`;
  return undefined;
}

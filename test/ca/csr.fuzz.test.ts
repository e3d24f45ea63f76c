import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, KeyObject, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnParser } from '@peculiar/asn1-schema';
import { ObjectIdentifier } from 'asn1js';
import { BasicConstraints, KeyUsage, KeyUsageFlags, Name, SubjectAlternativeName } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsr, type CertificateRequest, type Issuer } from '../../ca/index.js';
import { createSvidRequest, SpiffeId } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { derMutation, encodeDerTree, mutateDer, parseDerTree, type DerMutation } from '../helpers/der-mutator.js';
import { codeOf } from '../helpers/error-code.js';
import { expectCoded, fuzzParams, outcomeOf } from '../helpers/fuzz.js';
import { testCa } from '../helpers/test-ca.js';

/**
 * Fuzzing of the CSR reader (ca/csr.ts) and of the issuance path (Issuer.issue) with random bytes,
 * random PEM wrappers and structure-aware mutations of valid CSRs (docs/fuzzing.md). Every input either
 * parses into a request an independent reader agrees with (its signature verifies with Node crypto over
 * the CertificationRequestInfo that @peculiar/asn1-csr finds), or is refused with an ERR_CSR_* code.
 */

const ID = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');
const CSR_CODES = [
  'ERR_CSR_MALFORMED',
  'ERR_CSR_TRUNCATED',
  'ERR_CSR_SIGNATURE',
  'ERR_CSR_SIGNATURE_ALGORITHM',
  'ERR_CSR_KEY_UNSUPPORTED',
  'ERR_CSR_KEY_WEAK',
  'ERR_CSR_CA_REQUESTED',
  'ERR_CSR_KEY_USAGE',
] as const;
const ISSUE_CODES = [...CSR_CODES, 'ERR_SAN_MISMATCH'] as const;

/** RFC 5758 §3.2 and RFC 4055 §5 signature algorithms, by OID: the hash each one signs with. */
const HASH_BY_OID: Readonly<Record<string, { hash: string; key: 'ec' | 'rsa' }>> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa' },
};

/** A valid CSR made at test time, with the key that signed it. */
interface SeedCsr {
  readonly name: string;
  readonly der: Buffer;
  readonly key: KeyObject;
}

/** The raw TLVs inside the one constructed element `der` (test-side reading, independent of ca/der.ts). */
function rawChildren(der: Uint8Array): Buffer[] {
  const lengthAt = (at: number): { len: number; next: number } => {
    const first = der[at]!;
    if (first < 0x80) return { len: first, next: at + 1 };
    let len = 0;
    for (let i = 0; i < (first & 0x7f); i++) len = len * 256 + der[at + 1 + i]!;
    return { len, next: at + 1 + (first & 0x7f) };
  };
  const outer = lengthAt(1);
  const out: Buffer[] = [];
  for (let at = outer.next; at < outer.next + outer.len; ) {
    const l = lengthAt(at + 1);
    out.push(Buffer.from(der.subarray(at, l.next + l.len)));
    at = l.next + l.len;
  }
  return out;
}

const oidDer = (oid: string) => Buffer.from(new ObjectIdentifier({ value: oid }).toBER(false)).toString('hex');
const OID_BY_DER = new Map(Object.keys(HASH_BY_OID).map((oid) => [oidDer(oid), oid]));
const OID_EXTENSION_REQUEST_DER = oidDer('1.2.840.113549.1.9.14');
const OID_SAN_DER = oidDer('2.5.29.17');
const OID_BASIC_CONSTRAINTS_DER = oidDer('2.5.29.19');
const OID_KEY_USAGE_DER = oidDer('2.5.29.15');

/**
 * Checks, with readers independent of ca/csr.ts, a CSR that parseCsr accepted: its signature verifies
 * with Node crypto over the CertificationRequestInfo bytes under the algorithm it names, and the key is
 * the one parseCsr returned; where @peculiar/asn1-csr can read the request, the SANs and requested
 * powers agree too. Throws (fails the property) on any disagreement. `sanReadable` is false when the
 * SAN extension is one no standard reader can read: such a request must never get a certificate.
 */
function crossCheck(der: Uint8Array, req: CertificateRequest): { sanReadable: boolean } {
  const [info, sigAlg, sig, ...rest] = rawChildren(der);
  expect(rest).toHaveLength(0);
  const spki = rawChildren(info!)[2]!;
  const oid = OID_BY_DER.get(rawChildren(sigAlg!)[0]!.toString('hex'));
  expect(oid, 'an accepted CSR names a known signature algorithm').toBeDefined();
  const alg = HASH_BY_OID[oid!]!;
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  expect(key.asymmetricKeyType).toBe(alg.key);
  expect(sig![0]).toBe(0x03);
  const signature = bitStringBytes(sig!);
  expect(cryptoVerify(alg.hash, info!, key, signature), 'an accepted CSR must carry a valid signature').toBe(true);
  expect(req.signatureAlgorithm.oid).toBe(oid);
  const algParams = rawChildren(sigAlg!)
    .slice(1)
    .map((p) => p.toString('hex'));
  expect(algParams.length === 0 || (algParams.length === 1 && algParams[0] === '0500'), 'signatureAlgorithm parameters are absent or NULL').toBe(true);
  expect(
    tryParse(() => AsnParser.parse(rawChildren(info!)[1]!, Name)),
    'the subject is a Name',
  ).toBeDefined();
  expect(Buffer.from(req.spki).equals(spki)).toBe(true);
  expect(Buffer.from(req.publicKey.export({ format: 'der', type: 'spki' })).equals(spki)).toBe(true);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  expect(req.keyKind).toBe(alg.key === 'rsa' ? 'rsa' : curve === 'prime256v1' ? 'ec-p256' : curve === 'secp384r1' ? 'ec-p384' : `unexpected ${curve}`);

  // Where a standard reader (@peculiar/asn1-csr) reads the whole request, it finds the same bytes signed.
  const csr = tryParse(() => AsnParser.parse(der, CertificationRequest));
  if (csr) expect(Buffer.from(csr.certificationRequestInfoRaw!).equals(info!)).toBe(true);

  // The requested extensions, walked here and read with @peculiar/asn1-x509 one value at a time, so
  // one unreadable extension does not hide the others.
  const uris: string[] = [];
  const dns: string[] = [];
  let others = 0;
  let sanReadable = true;
  const attributes = rawChildren(info!)[3];
  for (const attr of attributes ? rawChildren(attributes) : []) {
    const [type, values] = rawChildren(attr);
    if (type!.toString('hex') !== OID_EXTENSION_REQUEST_DER) continue;
    for (const ext of rawChildren(rawChildren(values!)[0]!)) {
      const parts = rawChildren(ext);
      const id = parts[0]!.toString('hex');
      const value = octetStringBytes(parts[parts.length - 1]!);
      if (id === OID_SAN_DER) {
        const names = tryParse(() => AsnParser.parse(value, SubjectAlternativeName));
        if (!names) sanReadable = false;
        for (const gn of names ?? []) {
          if (gn.uniformResourceIdentifier !== undefined) uris.push(gn.uniformResourceIdentifier);
          else if (gn.dNSName !== undefined) dns.push(gn.dNSName);
          else others++;
        }
      } else if (id === OID_BASIC_CONSTRAINTS_DER) {
        const bc = tryParse(() => AsnParser.parse(value, BasicConstraints));
        if (bc) expect(bc.cA, 'an accepted CSR never asks for CA:true').toBe(false);
      } else if (id === OID_KEY_USAGE_DER) {
        const ku = tryParse(() => AsnParser.parse(value, KeyUsage).toNumber());
        if (ku !== undefined) expect(ku & (KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign), 'an accepted CSR never asks for keyCertSign').toBe(0);
      }
    }
  }
  if (sanReadable) {
    expect(req.uriSans).toEqual(uris);
    expect(req.dnsSans).toEqual(dns);
    expect(req.otherSanCount).toBe(others);
  }
  return { sanReadable };
}

/** The contents of an OCTET STRING TLV. */
function octetStringBytes(tlv: Buffer): Buffer {
  expect(tlv[0]).toBe(0x04);
  return tlv.subarray(tlv[1]! < 0x80 ? 2 : 2 + (tlv[1]! & 0x7f));
}

/** The bits of a DER BIT STRING TLV with 0 unused bits. */
function bitStringBytes(tlv: Buffer): Buffer {
  const l = tlv[1]! < 0x80 ? { next: 2 } : { next: 2 + (tlv[1]! & 0x7f) };
  expect(tlv[l.next], 'signature BIT STRING has 0 unused bits').toBe(0);
  return tlv.subarray(l.next + 1);
}

/** A requested extension that a standard reader cannot read is not ours to judge: the CA never copies it. */
function tryParse<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** parseCsr on `input` (bounded: a hang fails); refusals must be ERR_CSR_*, acceptances must cross-check. */
function checkParse(issuer: Issuer, input: string | Uint8Array, der: () => Uint8Array | undefined): CertificateRequest | undefined {
  const out = outcomeOf(() => parseCsr(input));
  if (!out.ok) {
    expectCoded(out.error, CSR_CODES);
    return undefined;
  }
  const bytes = der();
  if (bytes === undefined) throw new Error('parseCsr accepted an input the test cannot decode');
  const { sanReadable } = crossCheck(bytes, out.value);
  if (!sanReadable) {
    const issued = outcomeOf(() => issuer.issue(ID, out.value, { ttlMs: 3_600_000 }));
    expect(issued.ok, 'a request whose SAN no standard reader can read never gets a certificate').toBe(false);
    if (!issued.ok) expectCoded(issued.error, ISSUE_CODES);
  }
  return out.value;
}

/** Signs `info` (a CertificationRequestInfo, DER or not) with `seed`'s key and algorithm: a CSR whose signature is valid. */
function resign(seed: SeedCsr, info: Buffer): Buffer {
  const [, sigAlg] = rawChildren(seed.der);
  const hash = HASH_BY_OID[OID_BY_DER.get(rawChildren(sigAlg!)[0]!.toString('hex'))!]!.hash;
  const signature = cryptoSign(hash, info, seed.key);
  const bitString = encodeDerTree({ tag: 0x03, content: Buffer.concat([Buffer.of(0), signature]) });
  // The outer SEQUENCE around the bytes as they are: the mutated info need not be DER any more.
  return sequenceOf([info, sigAlg!, bitString]);
}

/** `seed` with tree edits applied to its CertificationRequestInfo, signed again with its key. */
function resignedMutant(seed: SeedCsr, m: DerMutation): Buffer {
  const [info] = rawChildren(seed.der);
  // Only tree edits: byte damage would mostly end at the outer lengths, before the extension reader.
  return resign(seed, mutateDer(info!, { tree: m.tree.length > 0 ? m.tree : [{ op: 'flip', at: 0, bit: 0 }], bytes: [] }));
}

describe('CSR reader fuzzing (ca/csr.ts parseCsr, Issuer.issue)', () => {
  let seeds: SeedCsr[];
  let ca: Awaited<ReturnType<typeof testCa>>;

  beforeAll(async () => {
    ca = await testCa();
    const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    // @peculiar/x509 builds these with keyUsage and basicConstraints extensions, for mutations to reach.
    const withExtensions = await testCsr({ uris: [ID.toString()], dns: ['web.example'], ca: false, keyUsage: 1 });
    seeds = [
      { name: 'ec-p256 with the SPIFFE ID', der: await createSvidRequest(ec256, ID), key: ec256 },
      { name: 'ec-p256 without SANs', der: await createSvidRequest(ec256), key: ec256 },
      { name: 'ec-p384 with a DNS name', der: await createSvidRequest(ec384, ID, ['web.default.svc']), key: ec384 },
      { name: 'rsa-2048 with the SPIFFE ID', der: await createSvidRequest(rsa, ID), key: rsa },
      { name: 'ec-p256 with keyUsage and basicConstraints', der: withExtensions.der, key: KeyObject.from(withExtensions.keys.privateKey) },
    ];
  });
  afterAll(() => ca?.cleanup());

  it('ok/every seed CSR parses and cross-checks; the DER tree round-trips it byte for byte', () => {
    for (const seed of seeds) {
      expect(encodeDerTree(parseDerTree(seed.der)).equals(seed.der), seed.name).toBe(true);
      expect(
        checkParse(ca.issuer, seed.der, () => seed.der),
        seed.name,
      ).toBeDefined();
    }
  });

  it('fail/random bytes are refused with an ERR_CSR_* code', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      // Starting with a SEQUENCE tag takes the DER path instead of the PEM one.
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.concat([Buffer.of(0x30), b])),
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.concat([Buffer.of(0x30, 0x82, b.length >> 8, b.length & 0xff), b])),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        checkParse(ca.issuer, b, () => b);
      }),
      fuzzParams(1500),
    );
  });

  it('fail/structure-aware mutations of valid CSRs: refused with a code, or accepted only when the signature still verifies', () => {
    fc.assert(
      fc.property(fc.nat(), derMutation, (which, m) => {
        const seed = seeds[which % seeds.length]!;
        const mutant = mutateDer(seed.der, m);
        checkParse(ca.issuer, mutant, () => mutant);
      }),
      fuzzParams(2500),
    );
  });

  it('fail/mutated requests re-signed with their key reach the extension reader: refused with a code or read consistently', () => {
    fc.assert(
      fc.property(fc.nat(), derMutation, (which, m) => {
        const mutant = resignedMutant(seeds[which % seeds.length]!, m);
        checkParse(ca.issuer, mutant, () => mutant);
      }),
      fuzzParams(1500),
    );
  });

  it('fail/random PEM wrappers: refused with a code, or accepted exactly when the PEM is well formed', () => {
    const labels = fc.constantFrom('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST', 'certificate request', 'CERTIFICATE', 'CERTIFICATE  REQUEST', '');
    const text = fc.string({ maxLength: 40, unit: fc.constantFrom('a', ' ', '\n', '-', '0', '=', '%', 'é', '\u0000', '\u2028', '\ufeff', 'B', 'E', 'G', 'I', 'N') });
    const wrapper = fc.record({
      seed: fc.nat(),
      payload: fc.oneof(fc.constant('valid' as const), derMutation, fc.uint8Array({ maxLength: 300 })),
      label: labels,
      endLabel: fc.option(labels, { nil: undefined }),
      lineLength: fc.oneof(fc.constant(64), fc.constant(0), fc.integer({ min: 1, max: 200 })),
      eol: fc.constantFrom('\n', '\r\n', ' ', '\t', ''),
      before: text,
      after: text,
      junk: fc.option(fc.record({ at: fc.nat(), text }), { nil: undefined }),
      asBytes: fc.boolean(),
    });
    fc.assert(
      fc.property(wrapper, (w) => {
        const seed = seeds[w.seed % seeds.length]!;
        const der = w.payload === 'valid' ? seed.der : w.payload instanceof Uint8Array ? Buffer.from(w.payload) : mutateDer(seed.der, w.payload);
        const b64 = der.toString('base64');
        const lines = w.lineLength === 0 ? [b64] : (b64.match(new RegExp(`.{1,${w.lineLength}}`, 'g')) ?? ['']);
        let body = lines.join(w.eol);
        if (w.junk) body = body.slice(0, w.junk.at % (body.length + 1)) + w.junk.text + body.slice(w.junk.at % (body.length + 1));
        const end = w.endLabel === undefined ? '' : `-----END ${w.endLabel}-----`;
        const pem = `${w.before}-----BEGIN ${w.label}-----\n${body}\n${end}${w.after}`;
        const input = w.asBytes ? Buffer.from(pem, 'utf8') : pem;
        const req = checkParse(ca.issuer, input, () => strictPemDer(pem));
        // A well-formed PEM of a valid CSR, with only surrounding text that cannot be mistaken for PEM, is accepted.
        const wellFormed =
          w.payload === 'valid' &&
          (w.label === 'CERTIFICATE REQUEST' || w.label === 'NEW CERTIFICATE REQUEST') &&
          w.endLabel === w.label &&
          !w.junk &&
          !/[-=%]/.test(w.before + w.after) &&
          !(w.asBytes && w.before.startsWith('0'));
        if (wellFormed) expect(req, 'a well-formed PEM of a valid CSR').toBeDefined();
      }),
      fuzzParams(1500),
    );
  });

  it('fail/Issuer.issue on mutated CSRs: refused with a code, or a leaf for the caller signed by the intermediate over the CSR key', () => {
    const intermediateKey = createPublicKey(ca.ca.active.issuer.pem);
    fc.assert(
      fc.property(fc.nat(), derMutation, fc.boolean(), (which, m, resigned) => {
        const seed = seeds[which % seeds.length]!;
        const mutant = resigned ? resignedMutant(seed, m) : mutateDer(seed.der, m);
        const out = outcomeOf(() => ca.issuer.issue(ID, mutant, { ttlMs: 3_600_000 }));
        if (!out.ok) {
          expectCoded(out.error, ISSUE_CODES);
          return;
        }
        expect(crossCheck(mutant, out.value.request).sanReadable, 'a certificate only for a request whose SAN is readable').toBe(true);
        const leaf = new X509Certificate(out.value.leafDer);
        expect(leaf.verify(intermediateKey)).toBe(true);
        expect(leaf.ca).toBe(false);
        expect(leaf.subjectAltName).toBe(`URI:${ID.toString()}`);
        expect(Buffer.from(leaf.publicKey.export({ format: 'der', type: 'spki' })).equals(Buffer.from(out.value.request.spki))).toBe(true);
      }),
      fuzzParams(800),
    );
  });
});

describe('CSR reader: regressions found by fuzzing', () => {
  let seed: SeedCsr;
  beforeAll(async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    seed = { name: 'ec-p256', der: await createSvidRequest(key, ID), key };
  });

  /** The seed with its subject replaced by `subject` (DER bytes), signed again: only the subject is wrong. */
  const withSubject = (subject: Buffer) => {
    const [version, , ...rest] = rawChildren(rawChildren(seed.der)[0]!);
    return resign(seed, sequenceOf([version!, subject, ...rest]));
  };
  /** The seed with its signatureAlgorithm replaced (not covered by the signature, so it stays valid). */
  const withSignatureAlgorithm = (sigAlg: Buffer) => {
    const [info, , sig] = rawChildren(seed.der);
    return sequenceOf([info!, sigAlg, sig!]);
  };
  const ECDSA_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex');

  it('fail/a subject that is no Name (content not even TLVs; a SEQUENCE of a BOOLEAN) is ERR_CSR_MALFORMED despite a valid signature', () => {
    expect(codeOf(() => parseCsr(withSubject(Buffer.from('300100', 'hex'))))).toBe('ERR_CSR_MALFORMED');
    expect(codeOf(() => parseCsr(withSubject(Buffer.from('30020100', 'hex'))))).toBe('ERR_CSR_MALFORMED');
    expect(codeOf(() => parseCsr(withSubject(Buffer.from('30023100', 'hex'))))).toBe('ERR_CSR_MALFORMED'); // empty RDN
    expect(codeOf(() => parseCsr(withSubject(Buffer.from('3100', 'hex'))))).toBe('ERR_CSR_MALFORMED');
  });

  it('ok/a subject that is a Name (empty, or CN=web) is accepted', () => {
    expect(codeOf(() => parseCsr(withSubject(Buffer.from('3000', 'hex'))))).toBeUndefined();
    expect(codeOf(() => parseCsr(withSubject(Buffer.from('300e310c300a06035504030c03776562', 'hex'))))).toBeUndefined();
  });

  it('fail/signatureAlgorithm parameters other than absent or NULL are ERR_CSR_MALFORMED (RFC 5758 §3.2)', () => {
    expect(codeOf(() => parseCsr(withSignatureAlgorithm(sequenceOf([ECDSA_SHA256, Buffer.from('020315fccc', 'hex')]))))).toBe('ERR_CSR_MALFORMED');
    expect(codeOf(() => parseCsr(withSignatureAlgorithm(sequenceOf([ECDSA_SHA256, ECDSA_SHA256]))))).toBe('ERR_CSR_MALFORMED');
    expect(codeOf(() => parseCsr(withSignatureAlgorithm(sequenceOf([ECDSA_SHA256, Buffer.from('0500', 'hex'), Buffer.from('0500', 'hex')]))))).toBe('ERR_CSR_MALFORMED');
  });

  it('fail/a PEM body with Unicode whitespace (U+FEFF, U+2028, U+00A0) is ERR_CSR_MALFORMED; RFC 7468 whitespace is fine', () => {
    const b64 = seed.der.toString('base64');
    const pem = (body: string) => `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
    for (const space of ['\ufeff', '\u2028', '\u00a0', '\u3000']) {
      expect(codeOf(() => parseCsr(pem(b64.slice(0, 10) + space + b64.slice(10))))).toBe('ERR_CSR_MALFORMED');
    }
    expect(codeOf(() => parseCsr(pem(`${b64.slice(0, 10)} \t\r\n\v\f${b64.slice(10)}`)))).toBeUndefined();
  });

  it('ok/signatureAlgorithm with NULL parameters is accepted', () => {
    expect(codeOf(() => parseCsr(withSignatureAlgorithm(sequenceOf([ECDSA_SHA256, Buffer.from('0500', 'hex')]))))).toBeUndefined();
  });
});

/** A DER SEQUENCE of already-encoded elements. */
function sequenceOf(elements: Buffer[]): Buffer {
  const whole = encodeDerTree({ tag: 0x04, content: Buffer.concat(elements) });
  whole[0] = 0x30;
  return whole;
}

/** RFC 7468 §3 reading (lax whitespace W, strict base64): one CERTIFICATE REQUEST block; undefined otherwise. */
function strictPemDer(pem: string): Buffer | undefined {
  const m = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (NEW )?CERTIFICATE REQUEST-----/.exec(pem);
  if (!m) return undefined;
  const b64 = m[2]!.replace(/[ \t\r\n\v\f]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  return Buffer.from(b64, 'base64');
}

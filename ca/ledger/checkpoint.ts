import { verify as cryptoVerify, X509Certificate } from 'node:crypto';
import type { SigningAuthority } from '../issuer.js';
import { chainRecord, signedBytes, type LedgerRecord } from './ledger-record.js';

/** What signs checkpoints: the CA's active signing (intermediate) key and the certificates that vouch for it. */
export interface CheckpointSigner {
  /** DER of the signing certificate first, then any certificates between it and the root (root excluded). */
  readonly chainDer: readonly Uint8Array[];
  /** Lowercase hex SubjectKeyIdentifier of the signing certificate. */
  readonly keyId: string;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** Validity of the signing certificate: the ledger signs no checkpoint outside it (it could never verify). */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  sign(data: Uint8Array): Buffer;
}

/**
 * The checkpoint signer of a signing authority: its intermediate key, which already signs every leaf.
 *
 * @example const signer = checkpointSignerFor(ca.active);
 */
export function checkpointSignerFor(a: SigningAuthority): CheckpointSigner {
  return {
    chainDer: [a.issuer.der, ...a.parents.slice(0, -1).map((p) => p.der)],
    keyId: a.issuer.ski.toString('hex'),
    hash: a.signer.signatureAlgorithm.hash,
    notBefore: a.issuer.notBefore,
    notAfter: a.issuer.notAfter,
    sign: (data) => a.signer.sign(data),
  };
}

/** The JSON `details` of a checkpoint record (keys in this order; stored as the exact text hashed). */
export interface CheckpointDetails {
  readonly v: 1;
  /** First sequence number this checkpoint covers (the one after the previous checkpoint). */
  readonly from: number;
  /** Last sequence number it covers (the record just before it). */
  readonly to: number;
  readonly keyId: string;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** Base64 DER: the signing certificate, then intermediates up to (not including) the root. */
  readonly chain: readonly string[];
}

/**
 * A signed checkpoint chained after `prev`. The signature covers the record's canonical encoding (with
 * the signature null), which holds its own sequence number and the hash of the previous record, so it
 * commits to the whole chain before it.
 */
export function makeCheckpoint(prev: { seq: number; hash: string }, lastCheckpointSeq: number, signer: CheckpointSigner, time: string): LedgerRecord {
  const details: CheckpointDetails = {
    v: 1,
    from: lastCheckpointSeq + 1,
    to: prev.seq,
    keyId: signer.keyId,
    hash: signer.hash,
    chain: signer.chainDer.map((d) => Buffer.from(d).toString('base64')),
  };
  const unsigned = chainRecord({ type: 'checkpoint', time, event: 'checkpoint', details: JSON.stringify(details) }, prev);
  const signature = signer.sign(signedBytes(unsigned)).toString('base64');
  return chainRecord({ type: 'checkpoint', time, event: 'checkpoint', details: unsigned.details! }, prev, signature);
}

/** Why a checkpoint does not verify: `forged` when no trusted key made it, `invalid` when its signature or content is wrong. */
export interface CheckpointProblem {
  readonly kind: 'forged-checkpoint' | 'invalid-checkpoint';
  readonly message: string;
}

/** The parsed details of a checkpoint record, or undefined when they are not JSON. */
export function checkpointDetails(r: LedgerRecord): CheckpointDetails | undefined {
  try {
    return JSON.parse(r.details ?? '') as CheckpointDetails;
  } catch {
    return undefined;
  }
}

/**
 * Checks a checkpoint record: well-formed details, a signer certificate chaining to one of `roots`
 * and valid at the checkpoint's time, and a signature by that certificate's key over the record.
 * With `signers`, the signer certificate must also be one of them (byte for byte): a CA certificate of
 * another CA under the same root (a sibling cluster under a shared organisation root) must not vouch
 * for this CA's ledger. Returns undefined when it verifies; never throws.
 *
 * @example const problem = verifyCheckpoint(record, roots, 0, intermediates);
 */
export function verifyCheckpoint(
  r: LedgerRecord,
  roots: readonly X509Certificate[],
  lastCheckpointSeq: number,
  signers?: readonly X509Certificate[],
): CheckpointProblem | undefined {
  try {
    return checkCheckpoint(r, roots, lastCheckpointSeq, signers);
  } catch (err) {
    // A key or signature the crypto library rejects (odd curve, malformed DER) makes the checkpoint invalid, not the verifier crash.
    return { kind: 'invalid-checkpoint', message: `its signer or signature cannot be checked: ${(err as Error).message}` };
  }
}

function checkCheckpoint(
  r: LedgerRecord,
  roots: readonly X509Certificate[],
  lastCheckpointSeq: number,
  signers: readonly X509Certificate[] | undefined,
): CheckpointProblem | undefined {
  const invalid = (message: string): CheckpointProblem => ({ kind: 'invalid-checkpoint', message });
  const d = checkpointDetails(r);
  if (d === undefined || d === null || typeof d !== 'object') return invalid('its details are not JSON');
  if (d.v !== 1 || !Array.isArray(d.chain) || d.chain.length === 0 || !['sha256', 'sha384', 'sha512'].includes(d.hash)) {
    return invalid('its details are not a version-1 checkpoint');
  }
  if (d.to !== r.seq - 1 || d.from !== lastCheckpointSeq + 1) {
    return invalid(`it claims to cover ${d.from}..${d.to}, but follows checkpoint ${lastCheckpointSeq} at position ${r.seq}`);
  }
  if (!r.signature) return invalid('it has no signature');
  let chain: X509Certificate[];
  try {
    chain = d.chain.map((b) => new X509Certificate(Buffer.from(b, 'base64')));
  } catch {
    return invalid('its signer certificate does not parse');
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      return { kind: 'forged-checkpoint', message: `its signer chain is broken at certificate ${i}` };
    }
  }
  const top = chain[chain.length - 1]!;
  if (!roots.some((root) => top.checkIssued(root) && top.verify(root.publicKey))) {
    return { kind: 'forged-checkpoint', message: `its signer (${chain[0]!.subject.replace(/\n/g, ', ')}) does not chain to a trusted root` };
  }
  const signer = chain[0]!;
  if (!signer.ca) return { kind: 'forged-checkpoint', message: 'its signer is not a CA certificate' };
  if (signers && !signers.some((s) => s.raw.equals(signer.raw))) {
    return {
      kind: 'forged-checkpoint',
      message: `its signer (${signer.subject.replace(/\n/g, ', ')}, serial ${signer.serialNumber}) is not one of this CA's signing certificates`,
    };
  }
  const at = Date.parse(r.time);
  if (!(at >= Date.parse(signer.validFrom) && at <= Date.parse(signer.validTo))) {
    return invalid(`its time ${r.time} is outside its signer's validity (${signer.validFrom} .. ${signer.validTo})`);
  }
  const ok = cryptoVerify(d.hash, signedBytes(r), signer.publicKey, Buffer.from(r.signature, 'base64'));
  return ok ? undefined : invalid('its signature does not verify: the records it covers were rewritten, or it was edited');
}

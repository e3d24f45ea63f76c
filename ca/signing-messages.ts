import { createPublicKey, type KeyObject } from 'node:crypto';
import type { CertificateRequest } from './csr.js';
import { CSR_SIGNATURE_ALGORITHMS } from './signature-algorithm.js';

/**
 * What the CA's event loop and its signing workers say to each other (docs/architecture.md §4,
 * signing-workers.ts / signing-worker.ts). Plain data: everything crosses by postMessage (a KeyObject
 * is cloned by Node without its bytes being exported).
 */

/** A tight copy for postMessage: a Buffer from Node's pool would carry its whole 8 KiB slab across. */
export const tight = (b: Uint8Array): Uint8Array => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b));

/** The authority an Issuer signs with and its policy, sent once per worker before the first job under it. */
export interface AuthorityMessage {
  readonly kind: 'authority';
  /** Names this Issuer's authority and policy in later jobs (a new Issuer, e.g. after a rotation, gets a new one). */
  readonly generation: number;
  readonly trustDomain: string;
  readonly issuerDer: Uint8Array;
  /** Certificates above the issuer, nearest first, root last. */
  readonly parentsDer: readonly Uint8Array[];
  readonly key: KeyObject;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  readonly allowDnsSans: boolean;
}

/** One certificate to issue: the CSR exactly as the caller sent it, checked and signed in the worker. */
export interface IssueMessage {
  readonly kind: 'issue';
  readonly id: number;
  readonly generation: number;
  /** The caller's SPIFFE ID (from its authentication, never from the CSR). */
  readonly identity: string;
  readonly csr: string | Uint8Array;
  readonly ttlMs: number | undefined;
  /** The issuer's clock on the event loop when the job was made: the worker has no clock of its own. */
  readonly nowMs: number;
}

export type ToWorker = AuthorityMessage | IssueMessage;

/**
 * A checked CertificateRequest as plain data (the ledger records its SPKI): the key object stays in the
 * worker, the signature algorithm travels as its OID.
 */
export type RequestFacts = Omit<CertificateRequest, 'publicKey' | 'signatureAlgorithm'> & { readonly signatureAlgorithmOid: string };

/** A checked request as it crosses from a worker (tight byte arrays). */
export function requestFacts(r: CertificateRequest): RequestFacts {
  const { publicKey: _key, signatureAlgorithm, ...facts } = r;
  return { ...facts, spki: tight(r.spki), publicKeyBits: tight(r.publicKeyBits), signatureAlgorithmOid: signatureAlgorithm.oid };
}

/** The request again on the event loop; its public key is imported only if someone asks (the worker checked the signature with it). */
export function requestOf(facts: RequestFacts): CertificateRequest {
  const { signatureAlgorithmOid, ...r } = facts;
  let publicKey: KeyObject | undefined;
  return {
    ...r,
    get publicKey() {
      publicKey ??= createPublicKey({ key: Buffer.from(r.spki), format: 'der', type: 'spki' });
      return publicKey;
    },
    signatureAlgorithm: CSR_SIGNATURE_ALGORITHMS.get(signatureAlgorithmOid)!,
  };
}

export interface IssuedMessage {
  readonly id: number;
  readonly ok: true;
  readonly leafDer: Uint8Array;
  readonly leafPem: string;
  readonly serialHex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly cappedByIssuer: boolean;
  readonly request: RequestFacts;
}

/** A refusal or failure: a CastellanError's code, message and context, rebuilt as one on the event loop. */
export interface FailedMessage {
  readonly id: number;
  readonly ok: false;
  readonly code: string | undefined;
  readonly message: string;
  readonly context: Readonly<Record<string, unknown>>;
  /** The message of the error's cause (OpenSSL's reason behind an ERR_SIGNER), if any. */
  readonly cause: string | undefined;
  /** The CSR's SPKI once it parsed (the refusal's ledger record names the key). */
  readonly csrSpki: Uint8Array | undefined;
}

export type FromWorker = IssuedMessage | FailedMessage;

import type { SpiffeId, TrustDomain } from '../workload-identity/index.js';
import { BACKDATE_MS } from './authority-profile.js';
import { randomSerial } from './certificate-builder.js';
import type { CertificateInfo } from './certificate-info.js';
import type { KeyObject } from 'node:crypto';
import { isParsedRequest, parseCsr, parseCsrAsync, type CertificateRequest } from './csr.js';
import { caError, type CaError, type CaErrorCode } from './errors.js';
import { ipAddressOctets } from './ip-address.js';
import { derToPem } from './pem.js';
import { requestOf, type AuthorityMessage, type FromWorker } from './signing-messages.js';
import type { SigningWorkers } from './signing-workers.js';
import { inProcessKeyOf, type Signer } from './signer.js';
import { SvidTemplate } from './svid-profile.js';

/** The certificate material that signs leaves: an intermediate, its key, and the chain up to its root. */
export interface SigningAuthority {
  readonly trustDomain: TrustDomain;
  /** The certificate whose key signs leaves (an intermediate). */
  readonly issuer: CertificateInfo;
  readonly signer: Signer;
  /** Certificates above `issuer`, nearest first, ending with the root. */
  readonly parents: readonly CertificateInfo[];
}

export interface IssuerOptions {
  readonly authority: SigningAuthority;
  /** Leaf lifetime when the caller asks for none, in ms. Default 24 h. */
  readonly defaultTtlMs?: number;
  /** Longest leaf lifetime a caller may ask for, in ms; longer requests are refused. Default 7 d. */
  readonly maxTtlMs?: number;
  /** Copy DNS SANs requested in the CSR into the leaf (after the URI SAN); refused when false. Default false. */
  readonly allowDnsSans?: boolean;
  readonly now?: () => Date;
  /**
   * Signing workers (signing-workers.ts): `issueCsr` checks and signs there when the authority's key
   * is held in this process; absent, or a key that signs elsewhere (PKCS#11), on this thread.
   */
  readonly workers?: SigningWorkers;
}

/** Names each Issuer's authority and policy to the signing workers. */
let nextGeneration = 1;

/** A signed X509-SVID and its chain. */
export interface IssuedCertificate {
  readonly spiffeId: SpiffeId;
  readonly leafDer: Buffer;
  readonly leafPem: string;
  /** PEM certificates above the leaf, nearest first, root last. */
  readonly chainPem: readonly string[];
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** True when the requested lifetime was cut to the issuer's notAfter. */
  readonly cappedByIssuer: boolean;
  readonly request: CertificateRequest;
}

/** RFC 1123 host names, lower or upper case, with an optional leading wildcard label (RFC 6125 §6.4.3). */
const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i;

export const DEFAULT_WORKLOAD_TTL_MS = 24 * 3_600_000;
export const DEFAULT_MAX_WORKLOAD_TTL_MS = 7 * 24 * 3_600_000;

/**
 * Issues X509-SVIDs: the one issuance path every front end (CLI, gRPC API) uses. The identity comes from
 * the caller (a verified token, or the operator), never from the CSR (docs/architecture.md §2).
 *
 * @example
 *   const issuer = new Issuer({ authority });
 *   const cert = issuer.issue(SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web'), csrPem, { ttlMs: 3_600_000 });
 */
export class Issuer {
  private readonly template: SvidTemplate;
  private readonly chainPem: readonly string[];
  private readonly defaultTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly allowDnsSans: boolean;
  private readonly now: () => Date;
  private readonly chainNotAfter: number;
  /** What the signing workers need to sign as this issuer; built at the first job. */
  private workerAuthority: AuthorityMessage | undefined;

  constructor(readonly options: IssuerOptions) {
    const a = options.authority;
    this.chainNotAfter = Math.min(a.issuer.notAfter.getTime(), ...a.parents.map((p) => p.notAfter.getTime()));
    this.template = new SvidTemplate(a.issuer, a.signer);
    this.chainPem = Object.freeze([a.issuer.pem, ...a.parents.map((p) => p.pem)]);
    this.defaultTtlMs = options.defaultTtlMs ?? DEFAULT_WORKLOAD_TTL_MS;
    this.maxTtlMs = options.maxTtlMs ?? DEFAULT_MAX_WORKLOAD_TTL_MS;
    this.allowDnsSans = options.allowDnsSans ?? false;
    this.now = options.now ?? (() => new Date());
    if (!(this.defaultTtlMs > 0 && this.defaultTtlMs <= this.maxTtlMs)) {
      throw new TypeError(`Issuer: defaultTtlMs ${this.defaultTtlMs} must be > 0 and <= maxTtlMs ${this.maxTtlMs}`);
    }
  }

  get authority(): SigningAuthority {
    return this.options.authority;
  }

  /**
   * Checks `csr` and signs a leaf for `identity`. Throws CastellanError with an ERR_CSR_*, ERR_SAN_MISMATCH,
   * ERR_TTL_*, ERR_ISSUER_EXPIRED or ERR_SIGNER code.
   */
  issue(
    identity: SpiffeId,
    csr: string | Uint8Array | CertificateRequest,
    /** `ipAddresses`: iPAddress SANs the caller sets (never taken from the CSR); only the CA's own serving certificate has them. */
    options: { ttlMs?: number; ipAddresses?: readonly string[] } = {},
  ): IssuedCertificate {
    const request = typeof csr === 'string' || csr instanceof Uint8Array ? undefined : csr;
    const p = this.prepare(identity, request === undefined ? () => parseCsr(csr as string | Uint8Array) : () => request, options.ttlMs);
    const leafDer = this.template.sign(p.request, p.uri, p.request.dnsSans, p.serial, p.notBefore, p.notAfter, (options.ipAddresses ?? []).map(ipAddressOctets));
    return this.result(identity, p, leafDer);
  }

  /**
   * `issue` for a request already parsed (parseCsr / parseCsrAsync), with the leaf signed off the event
   * loop when the signer can (Signer.signAsync): the CA server's path. Same checks, same errors.
   */
  async issueAsync(identity: SpiffeId, request: CertificateRequest, options: { ttlMs?: number } = {}): Promise<IssuedCertificate> {
    const p = this.prepare(identity, () => request, options.ttlMs);
    const leafDer = await this.template.signAsync(p.request, p.uri, p.request.dnsSans, p.serial, p.notBefore, p.notAfter);
    return this.result(identity, p, leafDer);
  }

  /**
   * A CSR as the CA server receives it (PEM or DER), parsed, checked and signed: in a signing worker
   * when the issuer has workers and its key is held in this process, else with `parseCsrAsync` and
   * `issueAsync` on this thread. Same checks in the same order (the CSR first, then `issue`'s), same
   * errors. `onParsed` gets the CSR's SPKI once it parsed, also when a later check refuses it (the
   * refusal's ledger record names the key).
   */
  async issueCsr(identity: SpiffeId, csr: string | Uint8Array, options: { ttlMs?: number; onParsed?: (spki: Uint8Array) => void } = {}): Promise<IssuedCertificate> {
    const key = this.options.workers ? inProcessKeyOf(this.options.authority.signer) : undefined;
    const here = async () => {
      const request = await parseCsrAsync(csr);
      options.onParsed?.(request.spki);
      return this.issueAsync(identity, request, options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs });
    };
    const job = key && this.options.workers?.run(this.authorityFor(key), { identity: identity.toString(), csr, ttlMs: options.ttlMs, nowMs: this.now().getTime() });
    if (!job) return here();
    let m: FromWorker;
    try {
      m = await job;
    } catch {
      // The worker stopped before it answered: nothing it may have signed left the CA (nor was it
      // recorded), so the request is signed here instead (the pool logged why it stopped).
      return here();
    }
    if (!m.ok) {
      if (m.csrSpki !== undefined) options.onParsed?.(m.csrSpki);
      // A CastellanError in the worker is the same refusal here; anything else was a fault there.
      const cause = m.cause === undefined ? undefined : new Error(m.cause);
      throw m.code !== undefined
        ? caError(m.code as CaErrorCode, m.message, { context: { ...m.context }, ...(cause ? { cause } : {}) })
        : new Error(`signing worker: ${m.message}`, cause ? { cause } : undefined);
    }
    options.onParsed?.(m.request.spki);
    const leafDer = Buffer.from(m.leafDer.buffer, m.leafDer.byteOffset, m.leafDer.byteLength);
    const request = requestOf(m.request);
    return {
      spiffeId: identity,
      leafDer,
      leafPem: m.leafPem,
      chainPem: this.chainPem,
      serialHex: m.serialHex,
      notBefore: new Date(m.notBeforeMs),
      notAfter: new Date(m.notAfterMs),
      cappedByIssuer: m.cappedByIssuer,
      request,
    };
  }

  private authorityFor(key: KeyObject): AuthorityMessage {
    if (this.workerAuthority === undefined) {
      const a = this.options.authority;
      this.workerAuthority = {
        kind: 'authority',
        generation: nextGeneration++,
        trustDomain: a.trustDomain.name,
        issuerDer: a.issuer.der,
        parentsDer: a.parents.map((p) => p.der),
        key,
        defaultTtlMs: this.defaultTtlMs,
        maxTtlMs: this.maxTtlMs,
        allowDnsSans: this.allowDnsSans,
      };
    }
    return this.workerAuthority;
  }

  /** The checks and the certificate's fields, in the order `issue` has always made them. */
  private prepare(identity: SpiffeId, requestOf: () => CertificateRequest, ttlMsAsked: number | undefined) {
    const a = this.options.authority;
    if (!identity.isMemberOf(a.trustDomain)) {
      throw caError('ERR_SAN_MISMATCH', `issuer: ${identity.toString()} is not in trust domain ${a.trustDomain.name}`);
    }
    if (identity.path === '') throw caError('ERR_SAN_MISMATCH', 'issuer: a workload identity needs a path, not only the trust domain');
    const ttlMs = this.checkTtl(ttlMsAsked);
    const now = this.now().getTime();
    // No leaf may outlive any certificate above it (a plugged-in intermediate may outlive its parents).
    const issuerNotAfter = this.chainNotAfter;
    if (now >= issuerNotAfter) throw expiredChain(a, now);

    const request = requestOf();
    if (!isParsedRequest(request)) throw new TypeError('Issuer.issue: a CertificateRequest must come from parseCsr (its signature was checked there)');
    const uri = identity.toString();
    this.checkSans(request, uri);

    const notBefore = new Date(Math.max(now - BACKDATE_MS, a.issuer.notBefore.getTime()));
    // docs/architecture.md §3: a lifetime that would outlive the issuer is capped to the issuer's notAfter.
    const wanted = now + ttlMs;
    const notAfter = new Date(Math.min(wanted, issuerNotAfter));
    return { request, uri, notBefore, notAfter, serial: randomSerial(), cappedByIssuer: wanted > issuerNotAfter };
  }

  private result(identity: SpiffeId, p: ReturnType<Issuer['prepare']>, leafDer: Buffer): IssuedCertificate {
    return {
      spiffeId: identity,
      leafDer,
      leafPem: derToPem(leafDer, 'CERTIFICATE'),
      chainPem: this.chainPem,
      serialHex: p.serial.toString('hex'),
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      cappedByIssuer: p.cappedByIssuer,
      request: p.request,
    };
  }

  private checkTtl(requested: number | undefined): number {
    if (requested === undefined || requested === 0) return this.defaultTtlMs; // Istio: 0 means "CA default"
    if (!Number.isFinite(requested) || requested < 0) {
      throw caError('ERR_TTL_INVALID', `issuer: requested lifetime ${requested} ms is not a positive duration`);
    }
    if (requested > this.maxTtlMs) {
      throw caError('ERR_TTL_TOO_LONG', `issuer: requested lifetime ${Math.round(requested / 1000)}s exceeds the maximum ${Math.round(this.maxTtlMs / 1000)}s; ask for less`, {
        context: { requestedMs: requested, maxMs: this.maxTtlMs },
      });
    }
    return requested;
  }

  /** docs/architecture.md §2: SANs in the CSR are optional, but when present they must be exactly the caller's identity. */
  private checkSans(request: CertificateRequest, uri: string): void {
    for (const asked of request.uriSans) {
      if (asked !== uri) {
        throw caError('ERR_SAN_MISMATCH', `issuer: CSR asks for URI SAN ${JSON.stringify(asked)} but the caller is ${uri}`, {
          context: { requested: asked, identity: uri },
        });
      }
    }
    if (request.uriSans.length > 1) throw caError('ERR_SAN_MISMATCH', 'issuer: CSR repeats the URI SAN; an X509-SVID has exactly one');
    if (request.dnsSans.length > 0) {
      if (!this.allowDnsSans) {
        throw caError('ERR_SAN_MISMATCH', `issuer: CSR asks for DNS SANs (${request.dnsSans.join(', ')}), which this CA's policy does not grant`);
      }
      for (const name of request.dnsSans) {
        if (name.length > 253 || !DNS_NAME.test(name)) {
          throw caError('ERR_CSR_MALFORMED', `issuer: CSR DNS SAN ${JSON.stringify(name)} is not a valid DNS name`);
        }
      }
    }
    if (request.otherSanCount > 0) {
      throw caError('ERR_SAN_MISMATCH', 'issuer: CSR asks for SANs other than the SPIFFE ID (email, IP, ...), which workload certificates never carry');
    }
  }
}

/**
 * ERR_ISSUER_EXPIRED naming what to run (docs/root-rotation.md): a new intermediate under a root that is
 * still valid, or, when the root itself expired, a new root activated without waiting for agents (none
 * can verify anything under the old root any more).
 */
function expiredChain(a: SigningAuthority, now: number): CaError {
  const root = a.parents[a.parents.length - 1];
  if (root && root.notAfter.getTime() <= now) {
    return caError(
      'ERR_ISSUER_EXPIRED',
      `issuer: the root CA expired at ${root.notAfter.toISOString()}: nothing can be issued under it; rotate the root: 'castellan root prepare', then 'castellan root activate --force' (docs/root-rotation.md)`,
    );
  }
  const expired = [a.issuer, ...a.parents].find((c) => c.notAfter.getTime() <= now) ?? a.issuer;
  return caError(
    'ERR_ISSUER_EXPIRED',
    `issuer: the intermediate CA expired at ${expired.notAfter.toISOString()}; make a new one: 'castellan root rotate-intermediate' (--dir, --config or --server; a running CA rotates it on its own before it expires)`,
  );
}

import { createPublicKey, X509Certificate } from 'node:crypto';
import { checkServerIdentity as tlsCheckServerIdentity, type PeerCertificate } from 'node:tls';
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import type { CaV1 } from '../proto-types/index.js';
import {
  CastellanError,
  decodeJwtSvid,
  grpcDetails,
  isIpLiteral,
  parseHostPort,
  pemDecode,
  pemEncode,
  SpiffeId,
  spiffeIdOf,
  TrustBundle,
  TrustDomain,
  type JwtAuthority,
} from '../workload-identity/index.js';
import { CA_MISCONFIGURATION_CODES, transportProblem, type CaMisconfigurationCode } from './ca-transport-error.js';
import { caServiceClient } from './ca-protos.js';
import type { BundleSet, JwtSvid } from './secret-source.js';

export interface CaClientOptions {
  /** `host:port` of the CA's gRPC/TLS listener. */
  readonly address: string;
  /** PEM roots that verify the CA's serving certificate (the trust bundle, or the CA's bundle.pem). */
  readonly caBundlePem: string;
  /**
   * The DNS name expected in the CA's serving certificate. Default: the host of `address` when it is a
   * name, else `localhost`. A serving certificate whose URI SAN is `spiffe://<td>/castellan/ca` is
   * accepted whatever the name (that path is reserved for the CA; no workload can obtain it).
   */
  readonly serverName?: string;
  /** Deadline of one unary call, ms. Default 10000. */
  readonly callTimeoutMs?: number;
  /** grpc-js channel options (e.g. reconnect backoff in tests). */
  readonly channelOptions?: Record<string, string | number>;
  /**
   * Told about the connection after every call: the misconfiguration that failed it (ERR_CA_UNTRUSTED,
   * ERR_CA_NOT_TLS, ERR_CA_NAME_MISMATCH, ERR_CA_CERT_EXPIRED), or undefined once the CA answered (even
   * with a refusal: TLS works). An outage (connection refused, timeout) changes nothing.
   */
  readonly onConnection?: (problem: CastellanError<CaMisconfigurationCode> | undefined) => void;
}

/** What the CA returned for a CSR, decoded. */
export interface SignedCertificate {
  readonly id: SpiffeId;
  readonly chainDer: readonly Buffer[];
  readonly chainPem: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly bundle: TrustBundle;
}

export interface SignCall {
  readonly csrDer: Buffer;
  readonly ttlSeconds: number;
  readonly bundleSequence: number;
  readonly agentId: string;
  /** Bearer token (a service-account token). */
  readonly token?: string;
  /** Renewal by a still-valid SVID (mTLS) instead of a token: PEM key and chain. */
  readonly clientCertificate?: { readonly keyPem: string; readonly chainPem: string };
}

/**
 * One `WatchTrustBundle` message: the bundle, and the CA's request to re-issue leaves of other issuers
 * (docs/architecture.md §6: after `castellan root activate`, agents move to the new intermediate, paced by the CA).
 */
export interface TrustBundleMessage {
  readonly bundles: BundleSet;
  /** Subject key identifier (lowercase hex) of the intermediate that signs new leaves; '' from an old CA. */
  readonly activeIssuerKeyId: string;
  /** > 0: re-issue a leaf of another issuer at a uniformly random moment within this many seconds. */
  readonly reissueSpreadSeconds: number;
}

export interface ReportCall {
  /** The agent's own credential (as for WatchTrustBundle). */
  readonly token?: string;
  readonly agentId: string;
  /** The trust-bundle sequence the agent now serves. */
  readonly sequence: number;
  /** Cancels the call (the agent stops). */
  readonly signal?: AbortSignal;
}

/** Error codes of CA calls, by what the agent should do about them (misconfigurations: ca-transport-error.ts). */
export type CaCallErrorCode = 'ERR_TOKEN_REJECTED' | 'ERR_PERMISSION_DENIED' | 'ERR_CA_UNAVAILABLE' | 'ERR_CA_REFUSED' | 'ERR_CA_RESPONSE' | CaMisconfigurationCode;

const CA_PATH = '/castellan/ca';

/**
 * Maps a gRPC failure to a CastellanError that keeps the CA's own reason (it was written for us); a
 * connection that failed because of the agent's configuration gets its own code naming the flag.
 */
function caCallError(err: ServiceError, what: string, at: { address: string; serverName: string }): CastellanError<CaCallErrorCode> {
  const reason = grpcDetails(err.details || err.message);
  // The CA's stable error code and, for a lifetime above its maximum, that maximum travel as trailing
  // metadata: decisions are taken on them, never on the message text.
  const caError = err.metadata?.get('castellan-error')[0];
  const maxTtl = Number(err.metadata?.get('castellan-max-ttl-seconds')[0]);
  const context = {
    grpcStatus: err.code,
    ...(caError !== undefined ? { caError: String(caError) } : {}),
    ...(Number.isSafeInteger(maxTtl) && maxTtl > 0 ? { caMaxTtlSeconds: maxTtl } : {}),
  };
  switch (err.code) {
    case status.UNAUTHENTICATED:
      return new CastellanError('ERR_TOKEN_REJECTED', `sds: the CA refused the credentials (${what}): ${reason}`, { cause: err, context });
    case status.PERMISSION_DENIED:
      return new CastellanError('ERR_PERMISSION_DENIED', `sds: the CA denied ${what}: ${reason}`, { cause: err, context });
    case status.INVALID_ARGUMENT:
    case status.FAILED_PRECONDITION:
    case status.OUT_OF_RANGE:
    case status.UNIMPLEMENTED:
      return new CastellanError('ERR_CA_REFUSED', `sds: the CA refused ${what}: ${reason}`, { cause: err, context });
    default: {
      const p = err.code === status.UNAVAILABLE ? transportProblem(reason, at) : undefined;
      if (p) return new CastellanError(p.code, p.message, { cause: err, context: { ...context, caAddress: at.address, ...(p.flag ? { flag: p.flag } : {}) } });
      return new CastellanError('ERR_CA_UNAVAILABLE', `sds: the CA at ${at.address} is unavailable (${what}): ${status[err.code] ?? err.code}: ${reason}`, { cause: err, context });
    }
  }
}

/** DER of the certificates in PEM text, in order. */
export function pemToDer(pem: string): Buffer[] {
  return pemDecode(pem, 'CERTIFICATE');
}

function normalisePem(blocks: readonly string[]): string {
  return blocks
    .flatMap((b) => pemDecode(b, 'CERTIFICATE'))
    .map((der) => pemEncode(der, 'CERTIFICATE'))
    .join('');
}

/** JWT keys of a WatchTrustBundle message; a key that does not parse is left out (and the rest kept). */
function jwtAuthoritiesOf(list: readonly CaV1.JwtAuthority__Output[]): JwtAuthority[] {
  const out: JwtAuthority[] = [];
  for (const k of list) {
    const keyId = k.keyId;
    if (keyId === '' || out.some((a) => a.keyId === keyId)) continue;
    try {
      out.push(Object.freeze({ keyId, publicKey: createPublicKey({ key: k.publicKey, format: 'der', type: 'spki' }) }));
    } catch {
      // Not a public key: unusable, and no reason to drop the whole bundle.
    }
  }
  return out;
}

/** Federated bundles of a WatchTrustBundle message (docs/federation.md). */
function federatedOf(list: readonly CaV1.FederatedBundle__Output[]): TrustBundle[] {
  const out: TrustBundle[] = [];
  for (const f of list) {
    try {
      const trustDomain = TrustDomain.of(f.trustDomain);
      if (out.some((b) => b.trustDomain.equals(trustDomain))) continue;
      const roots = f.roots.flatMap((pem) => pemDecode(pem, 'CERTIFICATE'));
      out.push(TrustBundle.of({ trustDomain, sequence: f.spiffeSequence, roots, jwtAuthorities: jwtAuthoritiesOf(f.jwtAuthorities) }));
    } catch {
      // A federated bundle that cannot be used is left out, and the others kept.
    }
  }
  return out;
}

function timestampDate(t: { seconds: number; nanos: number } | null | undefined): Date {
  return new Date((t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6));
}

/**
 * A client of the CA's `castellan.ca.v1.CertificateAuthority` over gRPC/TLS (docs/architecture.md §4): `Sign` with a
 * bearer token or a client certificate, and the `WatchTrustBundle` stream.
 *
 * @example
 *   const ca = new CaClient({ address: 'castellan.castellan-system.svc:15012', caBundlePem });
 *   const signed = await ca.sign({ csrDer, ttlSeconds: 3600, bundleSequence: 0, agentId: 'pod-a', token });
 */
export class CaClient {
  private client: CaV1.CertificateAuthorityClient;
  private rootsPem: string;
  private readonly serverName: string;

  constructor(private readonly o: CaClientOptions) {
    const { host } = parseHostPort(o.address);
    this.serverName = o.serverName ?? (isIpLiteral(host) ? 'localhost' : host);
    this.rootsPem = o.caBundlePem;
    this.client = this.makeClient(null);
  }

  /**
   * Trusts `rootsPem` for the CA's serving certificate from now on (after a root rotation the CA's
   * certificate may chain to a root the agent learnt from WatchTrustBundle).
   */
  setTrustedRoots(rootsPem: string): void {
    const have = new Set(pemToDer(this.rootsPem).map((d) => d.toString('base64')));
    // Only a root not trusted yet needs a new channel (each one costs a TLS connection).
    if (pemToDer(rootsPem).every((d) => have.has(d.toString('base64')))) return;
    this.rootsPem = rootsPem;
    const old = this.client;
    this.client = this.makeClient(null);
    // Streams on the old channel keep running until they end; the follower reconnects on the new one.
    setTimeout(() => old.close(), 30_000).unref();
  }

  private credentials(clientCert: SignCall['clientCertificate'] | null): ChannelCredentials {
    const accept = (hostname: string, cert: PeerCertificate): Error | undefined => {
      if (spiffeIdOf(cert)?.path === CA_PATH) return undefined;
      return tlsCheckServerIdentity(hostname, cert);
    };
    return credentials.createSsl(Buffer.from(this.rootsPem), clientCert ? Buffer.from(clientCert.keyPem) : null, clientCert ? Buffer.from(clientCert.chainPem) : null, {
      checkServerIdentity: accept,
    });
  }

  private makeClient(clientCert: SignCall['clientCertificate'] | null): CaV1.CertificateAuthorityClient {
    const Ctor = caServiceClient();
    return new Ctor(this.o.address, this.credentials(clientCert), {
      'grpc.ssl_target_name_override': this.serverName,
      'grpc.default_authority': this.serverName,
      ...(this.o.channelOptions ?? {}),
    });
  }

  /** Sends a CSR; resolves with the decoded chain and bundle, or rejects with a CaCallErrorCode. */
  async sign(call: SignCall): Promise<SignedCertificate> {
    const md = new Metadata();
    if (call.token !== undefined) md.set('authorization', `Bearer ${call.token}`);
    // A client certificate needs its own TLS connection; it is used rarely (renewal without a token).
    const client = call.clientCertificate ? this.makeClient(call.clientCertificate) : this.client;
    try {
      const res = await new Promise<CaV1.SignResponse__Output | undefined>((resolve, reject) => {
        client.Sign(
          { csr: call.csrDer, ttlSeconds: call.ttlSeconds, bundleSequence: call.bundleSequence, agentId: call.agentId },
          md,
          { deadline: Date.now() + (this.o.callTimeoutMs ?? 10_000) },
          (err, r) => (err ? reject(this.failed(err, 'Sign')) : resolve(this.answered(r))),
        );
      });
      return this.decode(res);
    } finally {
      if (client !== this.client) client.close();
    }
  }

  private decode(r: CaV1.SignResponse__Output | undefined): SignedCertificate {
    const spiffeId = r?.spiffeId ?? '';
    const chainPem = normalisePem([r?.leaf ?? '', ...(r?.intermediates ?? [])]);
    const chainDer = pemToDer(chainPem);
    const rootsPem = normalisePem(r?.trustBundle ?? []);
    if (!r || !spiffeId.startsWith('spiffe://') || chainDer.length === 0 || pemToDer(rootsPem).length === 0) {
      throw new CastellanError('ERR_CA_RESPONSE', 'sds: the CA answered Sign without an identity, a leaf or a trust bundle');
    }
    let id: SpiffeId;
    let bundle: TrustBundle;
    try {
      id = SpiffeId.parse(spiffeId);
      bundle = TrustBundle.of({ trustDomain: id.trustDomain, sequence: r.bundleSequence, roots: pemToDer(rootsPem) });
    } catch (cause) {
      throw new CastellanError('ERR_CA_RESPONSE', `sds: the CA answered Sign with an unusable identity or trust bundle: ${(cause as Error).message}`, { cause });
    }
    let notAfter = timestampDate(r.notAfter);
    let notBefore = timestampDate(r.notBefore);
    let serialHex = r.serial.toLowerCase();
    // The certificate itself is the authority on its dates and serial, should the fields be absent.
    const x = new X509Certificate(chainDer[0]!);
    if (notAfter.getTime() === 0) notAfter = new Date(x.validTo);
    if (notBefore.getTime() === 0) notBefore = new Date(x.validFrom);
    if (serialHex === '') serialHex = x.serialNumber.toLowerCase();
    return { id, chainDer, chainPem, serialHex, notBefore, notAfter, bundle };
  }

  /**
   * Opens `WatchTrustBundle`: `onBundle` for every message, `onEnd` once when the stream ends (with the
   * error, if any). Returns a function that cancels the stream (then `onEnd` is not called).
   */
  watchTrustBundle(o: { token?: string; agentId: string; onBundle: (m: TrustBundleMessage) => void; onEnd: (err?: CastellanError) => void }): () => void {
    const md = new Metadata();
    if (o.token !== undefined) md.set('authorization', `Bearer ${o.token}`);
    const stream = this.client.WatchTrustBundle({ agentId: o.agentId }, md);
    let done = false;
    const end = (err?: CastellanError) => {
      if (done) return;
      done = true;
      o.onEnd(err);
    };
    stream.on('data', (m: CaV1.TrustBundle__Output) => {
      this.answered(undefined);
      const rootsPem = normalisePem(m.roots);
      const rootsDer = pemToDer(rootsPem);
      if (rootsDer.length === 0) return;
      let own: TrustBundle;
      try {
        own = TrustBundle.of({ trustDomain: TrustDomain.of(m.trustDomain), sequence: m.sequence, roots: rootsDer, jwtAuthorities: jwtAuthoritiesOf(m.jwtAuthorities) });
      } catch {
        return; // as a message without roots: nothing the agent could serve
      }
      const spread = m.reissueSpreadSeconds;
      o.onBundle({
        bundles: Object.freeze({ own, federated: Object.freeze(federatedOf(m.federatedBundles)) }),
        activeIssuerKeyId: m.activeIssuerKeyId.toLowerCase().replace(/:/g, ''),
        reissueSpreadSeconds: Number.isFinite(spread) && spread > 0 ? spread : 0,
      });
    });
    stream.on('error', (err: ServiceError) => end(this.failed(err, 'WatchTrustBundle')));
    stream.on('end', () => end(new CastellanError('ERR_CA_UNAVAILABLE', 'sds: the CA ended the trust-bundle stream')));
    return () => {
      done = true;
      stream.cancel();
    };
  }

  /**
   * `SignJwtSvid`: a JWT-SVID for the identity `token` stands for (docs/jwt-svid.md). Rejects with a
   * CaCallErrorCode (a bad audience list: ERR_CA_REFUSED); an answer whose token does not name the
   * identity and audience the CA says is ERR_CA_RESPONSE.
   *
   * @example const jwt = await ca.signJwtSvid({ token: podToken, audience: ['spiffe://example.org/api'], agentId });
   */
  async signJwtSvid(call: { token: string; audience: readonly string[]; ttlSeconds?: number; agentId: string }): Promise<JwtSvid> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${call.token}`);
    const r = await new Promise<CaV1.SignJwtSvidResponse__Output | undefined>((resolve, reject) => {
      this.client.SignJwtSvid(
        { audience: [...call.audience], ttlSeconds: call.ttlSeconds ?? 0, agentId: call.agentId },
        md,
        { deadline: Date.now() + (this.o.callTimeoutMs ?? 10_000) },
        (err, res) => (err ? reject(this.failed(err, 'SignJwtSvid')) : resolve(res)),
      );
    });
    const token = r?.token ?? '';
    const spiffeId = r?.spiffeId ?? '';
    let claims: Record<string, unknown>;
    try {
      const d = decodeJwtSvid(token);
      if (d.spiffeId.toString() !== spiffeId) throw new Error(`sub ${d.spiffeId.toString()} is not ${spiffeId}`);
      claims = d.claims;
    } catch (cause) {
      throw new CastellanError('ERR_CA_RESPONSE', `sds: the CA answered SignJwtSvid with an unusable token: ${(cause as Error).message}`, { cause });
    }
    const aud = Array.isArray(claims['aud']) ? (claims['aud'] as unknown[]).map(String) : [String(claims['aud'])];
    if (!call.audience.every((a) => aud.includes(a))) throw new CastellanError('ERR_CA_RESPONSE', 'sds: the CA answered SignJwtSvid with a token for another audience');
    const exp = Number(claims['exp']);
    const iat = Number(claims['iat'] ?? Math.floor(Date.now() / 1000));
    if (!Number.isFinite(exp)) throw new CastellanError('ERR_CA_RESPONSE', 'sds: the CA answered SignJwtSvid with a token without exp');
    return Object.freeze({ id: SpiffeId.parse(spiffeId), token, audience: Object.freeze(aud), issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) });
  }

  /**
   * `ReportTrustBundle`: tells the CA which bundle sequence the agent now serves (after it pushed the
   * bundle to every workload), so that root activation can wait for current agents (docs/architecture.md §6).
   * Rejects with a CaCallErrorCode; an old CA without the RPC answers UNIMPLEMENTED (`grpcStatus` 12 in
   * the error's context, code ERR_CA_REFUSED).
   *
   * @example await ca.reportTrustBundle({ token, agentId: 'node-1', sequence: 7 });
   */
  async reportTrustBundle(call: ReportCall): Promise<void> {
    const md = new Metadata();
    if (call.token !== undefined) md.set('authorization', `Bearer ${call.token}`);
    await new Promise<void>((resolve, reject) => {
      const c = this.client.ReportTrustBundle({ agentId: call.agentId, sequence: call.sequence }, md, { deadline: Date.now() + (this.o.callTimeoutMs ?? 10_000) }, (err) =>
        err ? reject(this.failed(err, 'ReportTrustBundle')) : resolve(this.answered(undefined)),
      );
      call.signal?.addEventListener('abort', () => c.cancel(), { once: true });
    });
  }

  /**
   * `Authenticate`: which identity the CA says `token` stands for now (authenticated and authorized as
   * for Sign; nothing is signed). Rejects with a CaCallErrorCode; a CA without the RPC answers
   * UNIMPLEMENTED (ERR_CA_REFUSED with `grpcStatus` 12 in the error's context).
   *
   * @example const { id } = await ca.authenticate({ token: podToken });
   */
  async authenticate(call: { token: string }): Promise<{ id: SpiffeId }> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${call.token}`);
    const r = await new Promise<CaV1.AuthenticateResponse__Output | undefined>((resolve, reject) => {
      this.client.Authenticate({}, md, { deadline: Date.now() + (this.o.callTimeoutMs ?? 10_000) }, (err, res) =>
        err ? reject(this.failed(err, 'Authenticate')) : resolve(this.answered(res)),
      );
    });
    try {
      return { id: SpiffeId.parse(r?.spiffeId ?? '') };
    } catch (cause) {
      throw new CastellanError('ERR_CA_RESPONSE', 'sds: the CA answered Authenticate without an identity', { cause });
    }
  }

  close(): void {
    this.client.close();
  }

  /** A call's failure as a CastellanError; `onConnection` learns whether the connection is the problem. */
  private failed(err: ServiceError, what: string): CastellanError<CaCallErrorCode> {
    const e = caCallError(err, what, { address: this.o.address, serverName: this.serverName });
    if ((CA_MISCONFIGURATION_CODES as readonly string[]).includes(e.code)) this.o.onConnection?.(e as CastellanError<CaMisconfigurationCode>);
    // Any status the CA itself sent proves the connection (TLS, address, name) is right.
    else if (err.code !== status.UNAVAILABLE && err.code !== status.DEADLINE_EXCEEDED && err.code !== status.CANCELLED) this.o.onConnection?.(undefined);
    return e;
  }

  /** The CA answered: whatever was wrong with the connection is not any more. */
  private answered<T>(r: T): T {
    this.o.onConnection?.(undefined);
    return r;
  }
}

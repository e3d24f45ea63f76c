import type { Logger } from 'pino';
import { createSvidRequest, type SpiffeId } from '../../workload-identity/index.js';
import { authorityName } from '../authority-profile.js';
import { randomSerial, signCertificate } from '../certificate-builder.js';
import { Issuer, type IssuedCertificate, type SigningAuthority } from '../issuer.js';
import { generateKey } from '../key-type.js';
import { keyObjectSigner } from '../signer.js';
import { derToPem } from '../pem.js';
import type { Ledger } from '../ledger/index.js';
import { RotatingServerCredentials } from './rotating-server-credentials.js';
import type { TrustBundleSource } from './trust-bundle-source.js';

export interface ServingIdentityOptions {
  readonly authority: () => SigningAuthority;
  readonly spiffeId: SpiffeId;
  /** DNS names clients dial the CA by, e.g. `castellan.castellan-system.svc`, `localhost`. */
  readonly dnsNames: readonly string[];
  /** IP addresses clients dial the CA by (iPAddress SANs, RFC 5280 §4.2.1.6). Default none. */
  readonly ipAddresses?: readonly string[];
  readonly bundle: TrustBundleSource;
  /** Serving certificate lifetime in ms; renewed at half of it. Default 24 h. */
  readonly ttlMs?: number;
  readonly now?: () => Date;
  readonly log: Logger;
  /** Each serving certificate is recorded (lifecycle `serving-certificate-issued`, with its serial) before it is used. */
  readonly ledger?: Ledger;
  /** A TLS handshake not finished in this time closes the connection, ms. Default: Node's (120 s). */
  readonly handshakeTimeoutMs?: number;
}

/**
 * The CA's own TLS identity: issued by its own intermediate, renewed at half its lifetime, and offered
 * to the gRPC server as credentials whose client CA is the trust bundle (so a workload may present its
 * SVID for renewal: TLS verifies the chain, the authenticator decides).
 */
export class ServingIdentity {
  private material: { key: string; cert: string } | undefined;
  /** Issued by prepare(), recorded and used by activate(). */
  private pending: { cert: IssuedCertificate; key: string; issuerKeyId: string } | undefined;
  private creds: RotatingServerCredentials | undefined;
  private notAfter = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly ttlMs: number;
  private readonly now: () => Date;
  private readonly materialListeners = new Set<(m: { key: string; cert: string }) => void>();

  constructor(private readonly o: ServingIdentityOptions) {
    this.ttlMs = o.ttlMs ?? 24 * 3_600_000;
    this.now = o.now ?? (() => new Date());
    this.unsubscribe = o.bundle.subscribe(() => this.install());
  }

  /** Issues the first certificate; later ones follow on a timer. */
  async start(): Promise<void> {
    await this.prepare();
    await this.activate();
  }

  /**
   * Issues the first certificate without recording or using it yet, and makes credentials that offer a
   * throwaway self-signed certificate no client trusts: the gRPC port can be bound (and a taken port
   * found) before anything is recorded (docs/cli.md, `ca serve`: start-up is all-or-nothing).
   */
  async prepare(): Promise<void> {
    this.pending = await this.issue();
    this.creds = new RotatingServerCredentials(
      placeholderMaterial(this.o.spiffeId.trustDomain),
      this.o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.o.handshakeTimeoutMs } : {},
    );
  }

  /** Records the prepared certificate in the ledger, then serves it; later ones follow on a timer. */
  async activate(): Promise<void> {
    const first = this.pending;
    if (!first) throw new TypeError('ServingIdentity: prepare() first');
    this.pending = undefined;
    await this.record(first);
    this.use(first);
  }

  /** Re-issues the certificate shortly (the active authority changed: the old chain must not outlive it). */
  renewSoon(): void {
    this.schedule(0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.unsubscribe();
  }

  /** The server credentials; valid after `start`. */
  get credentials(): RotatingServerCredentials {
    if (!this.creds) throw new TypeError('ServingIdentity: start() first');
    return this.creds;
  }

  /** The PEM key and chain (leaf first) served now; undefined before activate(). */
  get tlsMaterial(): { readonly key: string; readonly cert: string } | undefined {
    return this.material;
  }

  /** Calls `listener` with every new key and chain (the SPIFFE bundle endpoint serves them too). */
  onMaterial(listener: (m: { key: string; cert: string }) => void): () => void {
    this.materialListeners.add(listener);
    return () => this.materialListeners.delete(listener);
  }

  /** The PEM chain currently served (leaf first). */
  get certificateChain(): string {
    return this.material?.cert ?? '';
  }

  get expiresAt(): Date {
    return new Date(this.notAfter);
  }

  private install(): void {
    if (!this.material) return;
    const opts = { key: this.material.key, cert: this.material.cert, ca: this.o.bundle.current().pem };
    if (this.creds) this.creds.update(opts);
    else this.creds = new RotatingServerCredentials(opts, this.o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.o.handshakeTimeoutMs } : {});
  }

  private async renew(): Promise<void> {
    const next = await this.issue();
    await this.record(next);
    this.use(next);
  }

  private async issue(): Promise<{ cert: IssuedCertificate; key: string; issuerKeyId: string }> {
    const key = generateKey('ec-p256').privateKey;
    const issuer = new Issuer({ authority: this.o.authority(), allowDnsSans: true, maxTtlMs: this.ttlMs, defaultTtlMs: this.ttlMs, now: this.now });
    const cert = issuer.issue(this.o.spiffeId, await createSvidRequest(key, this.o.spiffeId, this.o.dnsNames), { ipAddresses: this.o.ipAddresses ?? [] });
    return { cert, key: key.export({ format: 'pem', type: 'pkcs8' }) as string, issuerKeyId: issuer.authority.issuer.ski.toString('hex') };
  }

  /** docs/architecture.md §7: every certificate this CA signs is recorded before it is used, its own included. */
  private async record(x: { cert: IssuedCertificate; issuerKeyId: string }): Promise<void> {
    await this.o.ledger?.append({
      type: 'lifecycle',
      event: 'serving-certificate-issued',
      spiffeId: x.cert.spiffeId.toString(),
      serial: x.cert.serialHex,
      notBefore: x.cert.notBefore.toISOString(),
      notAfter: x.cert.notAfter.toISOString(),
      issuerKeyId: x.issuerKeyId,
      details: JSON.stringify({ dnsNames: this.o.dnsNames, ...((this.o.ipAddresses ?? []).length > 0 ? { ipAddresses: this.o.ipAddresses } : {}) }),
    });
  }

  private use({ cert, key }: { cert: IssuedCertificate; key: string }): void {
    this.material = { key, cert: cert.leafPem + cert.chainPem.slice(0, -1).join('') };
    this.notAfter = cert.notAfter.getTime();
    this.install();
    for (const l of [...this.materialListeners]) l(this.material);
    this.o.log.info(
      { serial: cert.serialHex, notAfter: cert.notAfter.toISOString(), dnsNames: this.o.dnsNames, ipAddresses: this.o.ipAddresses ?? [] },
      'serving certificate issued',
    );
    const lifetime = cert.notAfter.getTime() - this.now().getTime();
    this.schedule(Math.max(1000, lifetime / 2));
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.renew().catch((err: unknown) => {
        this.o.log.error({ err }, 'serving certificate renewal failed; retrying in 30 s');
        this.schedule(30_000);
      });
    }, ms);
    this.timer.unref();
  }
}

/**
 * A self-signed certificate for the seconds between binding the port and recording the real serving
 * certificate: no client trusts it, so no handshake succeeds with a certificate the ledger does not hold.
 */
function placeholderMaterial(trustDomain: SpiffeId['trustDomain']): { key: string; cert: string } {
  const key = generateKey('ec-p256').privateKey;
  const signer = keyObjectSigner(key);
  const name = authorityName(trustDomain, 'Castellan CA starting (not trusted)');
  const now = Date.now();
  const der = signCertificate(
    { serial: randomSerial(), issuer: name, subject: name, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), spki: signer.spki, extensions: [] },
    signer,
  );
  return { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: derToPem(der, 'CERTIFICATE') };
}

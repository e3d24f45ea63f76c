import type { Logger } from 'pino';
import { createSvidRequest, type SpiffeId } from '../../workload-identity/index.js';
import { Issuer, type SigningAuthority } from '../issuer.js';
import { generateKey } from '../key-type.js';
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
}

/**
 * The CA's own TLS identity: issued by its own intermediate, renewed at half its lifetime, and offered
 * to the gRPC server as credentials whose client CA is the trust bundle (so a workload may present its
 * SVID for renewal: TLS verifies the chain, the authenticator decides).
 */
export class ServingIdentity {
  private material: { key: string; cert: string } | undefined;
  private creds: RotatingServerCredentials | undefined;
  private notAfter = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly ttlMs: number;
  private readonly now: () => Date;

  constructor(private readonly o: ServingIdentityOptions) {
    this.ttlMs = o.ttlMs ?? 24 * 3_600_000;
    this.now = o.now ?? (() => new Date());
    this.unsubscribe = o.bundle.subscribe(() => this.install());
  }

  /** Issues the first certificate; later ones follow on a timer. */
  async start(): Promise<void> {
    await this.renew();
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
    else this.creds = new RotatingServerCredentials(opts);
  }

  private async renew(): Promise<void> {
    const key = generateKey('ec-p256').privateKey;
    const issuer = new Issuer({ authority: this.o.authority(), allowDnsSans: true, maxTtlMs: this.ttlMs, defaultTtlMs: this.ttlMs, now: this.now });
    const ipAddresses = this.o.ipAddresses ?? [];
    const cert = issuer.issue(this.o.spiffeId, await createSvidRequest(key, this.o.spiffeId, this.o.dnsNames), { ipAddresses });
    // DESIGN §7: every certificate this CA signs is recorded before it is used, its own included.
    await this.o.ledger?.append({
      type: 'lifecycle',
      event: 'serving-certificate-issued',
      spiffeId: cert.spiffeId.toString(),
      serial: cert.serialHex,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      issuerKeyId: issuer.authority.issuer.ski.toString('hex'),
      details: JSON.stringify({ dnsNames: this.o.dnsNames, ...(ipAddresses.length > 0 ? { ipAddresses } : {}) }),
    });
    this.material = { key: key.export({ format: 'pem', type: 'pkcs8' }) as string, cert: cert.leafPem + cert.chainPem.slice(0, -1).join('') };
    this.notAfter = cert.notAfter.getTime();
    this.install();
    this.o.log.info({ serial: cert.serialHex, notAfter: cert.notAfter.toISOString(), dnsNames: this.o.dnsNames, ipAddresses }, 'serving certificate issued');
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

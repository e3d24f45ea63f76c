import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createSvidRequest, type SpiffeId } from '../../workload-identity/index.js';
import { Issuer, type SigningAuthority } from '../issuer.js';
import { generateKey } from '../key-type.js';
import type { TrustBundleSource } from './trust-bundle-source.js';

type CertificateProvider = experimental.CertificateProvider;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

export interface ServingIdentityOptions {
  readonly authority: () => SigningAuthority;
  readonly spiffeId: SpiffeId;
  /** DNS names clients dial the CA by, e.g. `castellan.castellan-system.svc`, `localhost`. */
  readonly dnsNames: readonly string[];
  readonly bundle: TrustBundleSource;
  /** Serving certificate lifetime in ms; renewed at half of it. Default 24 h. */
  readonly ttlMs?: number;
  readonly now?: () => Date;
  readonly log: Logger;
}

/**
 * The CA's own TLS identity, issued by its own intermediate and renewed at half its lifetime, offered
 * to grpc-js as a CertificateProvider: identity = our key and chain, CA = the trust bundle (so clients
 * may present a workload certificate for renewal; the TLS layer verifies it, the authenticator decides).
 */
export class ServingIdentity implements CertificateProvider {
  private identity: experimental.IdentityCertificateUpdate | null = null;
  private notAfter = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private readonly unsubscribe: () => void;
  private readonly ttlMs: number;
  private readonly now: () => Date;

  constructor(private readonly o: ServingIdentityOptions) {
    this.ttlMs = o.ttlMs ?? 24 * 3_600_000;
    this.now = o.now ?? (() => new Date());
    this.unsubscribe = o.bundle.subscribe(() => this.caListeners.forEach((l) => l(this.caUpdate())));
  }

  /** Issues the first certificate; later ones follow on a timer. */
  async start(): Promise<void> {
    await this.renew();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.unsubscribe();
  }

  /** The PEM chain currently served (leaf first). */
  get certificateChain(): string {
    return this.identity?.certificate.toString() ?? '';
  }

  get expiresAt(): Date {
    return new Date(this.notAfter);
  }

  private async renew(): Promise<void> {
    const key = generateKey('ec-p256').privateKey;
    const issuer = new Issuer({ authority: this.o.authority(), allowDnsSans: true, maxTtlMs: this.ttlMs, defaultTtlMs: this.ttlMs, now: this.now });
    const csr = await createSvidRequest(key, this.o.spiffeId, this.o.dnsNames);
    const cert = issuer.issue(this.o.spiffeId, csr);
    this.identity = {
      certificate: Buffer.from(cert.leafPem + cert.chainPem.slice(0, -1).join('')),
      privateKey: Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }) as string),
    };
    this.notAfter = cert.notAfter.getTime();
    this.o.log.info({ serial: cert.serialHex, notAfter: cert.notAfter.toISOString(), dnsNames: this.o.dnsNames }, 'serving certificate issued');
    for (const l of this.identityListeners) l(this.identity);
    const lifetime = cert.notAfter.getTime() - this.now().getTime();
    this.timer = setTimeout(() => {
      this.renew().catch((err: unknown) => {
        this.o.log.error({ err }, 'serving certificate renewal failed; retrying in 30s');
        this.timer = setTimeout(() => void this.renew().catch(() => undefined), 30_000);
      });
    }, Math.max(1000, lifetime / 2));
    this.timer.unref();
  }

  private caUpdate(): experimental.CaCertificateUpdate {
    return { caCertificate: Buffer.from(this.o.bundle.current().pem) };
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    listener(this.identity);
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    listener(this.caUpdate());
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
}

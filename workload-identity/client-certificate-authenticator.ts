import { X509Certificate as NodeCertificate } from 'node:crypto';
import type { AuthenticatedCaller, Authenticator, AuthErrorCode, CallerCredentials } from './authenticator.js';
import { CastellanError, isCastellanError } from './errors.js';
import { parseKubernetesWorkloadId } from './kubernetes-identity.js';
import { TrustDomain } from './spiffe-id.js';
import { validateX509SvidLeaf, validateX509SvidSigningCert } from './x509-svid.js';

type X509Library = typeof import('@peculiar/x509');
let x509Library: X509Library | undefined;
/** Loaded at the first renewal by certificate: processes that never check one (the agent, most commands) do without it. */
async function loadX509(): Promise<X509Library> {
  if (!x509Library) {
    // @peculiar/x509 needs the polyfill evaluated before it.
    await import('reflect-metadata');
    x509Library = await import('@peculiar/x509');
  }
  return x509Library;
}

export interface ClientCertificateAuthenticatorOptions {
  readonly trustDomain: TrustDomain;
  /** The trusted roots (DER), asked at every use so that root rotation applies at once; never copied. */
  readonly bundle: () => readonly Uint8Array[];
  /** Most certificates a caller may present (leaf + intermediates). Default 8. */
  readonly maxChainLength?: number;
  readonly now?: () => Date;
}

interface Parsed {
  readonly node: NodeCertificate;
  readonly der: Uint8Array;
}

/**
 * Renewal without a token (docs/architecture.md §2): a caller presenting a still-valid X509-SVID that chains to one
 * of our roots may obtain the same identity again. Verifies the presented chain (leaf first, then
 * intermediates) link by link with Node's `crypto.X509Certificate`, checks the leaf against the
 * X509-SVID rules, its trust domain and its `/ns/<ns>/sa/<sa>` path. Failures: ERR_CLIENT_CERT_INVALID.
 *
 * @example
 *   const auth = new ClientCertificateAuthenticator({ trustDomain: td, bundle: () => ca.bundle.map((c) => c.der) });
 *   const caller = await auth.authenticate({ peerCertificates: [leafDer, intermediateDer] });
 */
export class ClientCertificateAuthenticator implements Authenticator {
  readonly kind = 'client-certificate' as const;
  private readonly now: () => Date;
  private readonly maxChainLength: number;
  /** Parsed roots by the bundle's own array elements, so an unchanged bundle is not re-parsed. */
  private readonly roots = new WeakMap<Uint8Array, NodeCertificate>();

  constructor(private readonly options: ClientCertificateAuthenticatorOptions) {
    if (!(options.trustDomain instanceof TrustDomain)) throw new TypeError('clientcert: trustDomain must be a TrustDomain (use TrustDomain.of)');
    if (typeof options.bundle !== 'function') throw new TypeError('clientcert: bundle must be a function returning the current roots (DER)');
    this.maxChainLength = options.maxChainLength ?? 8;
    if (!(Number.isInteger(this.maxChainLength) && this.maxChainLength >= 1)) throw new TypeError('clientcert: maxChainLength must be a whole number >= 1');
    this.now = options.now ?? (() => new Date());
  }

  async authenticate(credentials: CallerCredentials): Promise<AuthenticatedCaller> {
    const { X509Certificate: PeculiarCertificate } = await loadX509();
    const presented = credentials.peerCertificates ?? [];
    if (presented.length === 0) throw invalid('no client certificate presented; connect with your current X509-SVID');
    if (presented.length > this.maxChainLength) throw invalid(`client presented ${presented.length} certificates, at most ${this.maxChainLength} are accepted`);
    const chain = presented.map((der, i) => parse(der, i === 0 ? 'leaf' : `certificate #${i}`));
    const leaf = chain[0]!;
    const now = this.now();

    let id;
    try {
      id = validateX509SvidLeaf(new PeculiarCertificate(leaf.der));
    } catch (err) {
      if (!isCastellanError(err)) throw err;
      throw invalid(`leaf is not a valid X509-SVID: ${err.message.replace(/^x509svid: /, '')}`, err);
    }
    const serial = leaf.node.serialNumber.toLowerCase();
    if (!id.isMemberOf(this.options.trustDomain)) {
      throw invalid(`leaf SPIFFE ID ${id.toString()} is not in trust domain ${this.options.trustDomain.name}`, undefined, { serial });
    }
    const workload = parseKubernetesWorkloadId(id);
    if (workload === undefined) {
      throw invalid(`leaf SPIFFE ID ${id.toString()} is not a Kubernetes workload ID (/ns/<namespace>/sa/<service-account>)`, undefined, { serial });
    }

    this.verifyChain(chain, now, serial);
    return { spiffeId: id, namespace: workload.namespace, serviceAccount: workload.serviceAccount, authenticator: 'client-certificate' };
  }

  /** RFC 5280 §6.1, reduced to what our hierarchy needs: signature, issuer name, validity, CA, pathLen. */
  private verifyChain(chain: readonly Parsed[], now: Date, serial: string): void {
    const roots = this.options.bundle().map((der) => this.root(der));
    if (roots.length === 0) throw invalid('no trusted roots are configured; cannot verify client certificates', undefined, { serial });
    checkValidity(chain[0]!, 'leaf', now, serial);
    for (let i = 0; i < chain.length; i++) {
      const child = chain[i]!;
      // chain[1..i] are the intermediates below child's issuer; its pathLen must allow them (RFC 5280 §4.2.1.9)
      const below = i;
      const root = roots.find((r) => issued(r, child.node));
      if (root !== undefined) {
        checkValidity({ node: root, der: root.raw }, 'root', now, serial);
        checkPathLen(root.raw, below, 'root', serial);
        return;
      }
      const parent = chain[i + 1];
      if (parent === undefined) {
        throw invalid(
          `${i === 0 ? 'leaf' : `certificate #${i}`} is not issued by a trusted root and no further certificate was presented; send the full chain (or it comes from a CA this server does not trust)`,
          undefined,
          { serial },
        );
      }
      const name = `certificate #${i + 1}`;
      if (!issued(parent.node, child.node))
        throw invalid(`${name} did not issue ${i === 0 ? 'the leaf' : `certificate #${i}`} (name or signature mismatch)`, undefined, { serial });
      if (!parent.node.ca) throw invalid(`${name} is not a CA certificate`, undefined, { serial });
      try {
        validateX509SvidSigningCert(new x509Library!.X509Certificate(parent.der), this.options.trustDomain); // loaded by authenticate
      } catch (err) {
        if (!isCastellanError(err)) throw err;
        throw invalid(`${name} is not a valid X509-SVID signing certificate: ${err.message.replace(/^x509svid: /, '')}`, err, { serial });
      }
      checkValidity(parent, name, now, serial);
      checkPathLen(parent.der, below, name, serial);
    }
    throw invalid('the presented chain does not end at a trusted root', undefined, { serial });
  }

  private root(der: Uint8Array): NodeCertificate {
    let cert = this.roots.get(der);
    if (cert === undefined) {
      cert = new NodeCertificate(der);
      this.roots.set(der, cert);
    }
    return cert;
  }
}

function issued(issuer: NodeCertificate, child: NodeCertificate): boolean {
  return child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

function checkValidity(c: Parsed, name: string, now: Date, serial: string): void {
  const from = new Date(c.node.validFrom);
  const to = new Date(c.node.validTo);
  if (now < from) throw invalid(`${name} is not valid before ${from.toISOString()}`, undefined, { serial });
  if (now > to) throw invalid(`${name} expired at ${to.toISOString()}; request a new certificate with a token`, undefined, { serial });
}

function checkPathLen(der: Uint8Array, intermediatesBelow: number, name: string, serial: string): void {
  const { X509Certificate: PeculiarCertificate, BasicConstraintsExtension } = x509Library!; // loaded by authenticate
  const pathLen = new PeculiarCertificate(der).getExtension(BasicConstraintsExtension)?.pathLength;
  if (pathLen !== undefined && intermediatesBelow > pathLen) {
    throw invalid(`${name} allows ${pathLen} intermediates below it (pathLenConstraint), the chain has ${intermediatesBelow}`, undefined, { serial });
  }
}

function parse(der: Uint8Array, name: string): Parsed {
  try {
    return { node: new NodeCertificate(der), der };
  } catch (cause) {
    throw invalid(`${name} is not a DER X.509 certificate`, cause);
  }
}

function invalid(what: string, cause?: unknown, context: Record<string, unknown> = {}): CastellanError<AuthErrorCode> {
  return new CastellanError('ERR_CLIENT_CERT_INVALID', `clientcert: ${what}`, cause === undefined ? { context } : { context, cause });
}

import { X509Certificate } from 'node:crypto';
import { CastellanError } from './errors.js';
import { pemEncode } from './pem.js';
import type { JwtAuthority, SpiffeBundleErrorCode } from './spiffe-bundle.js';
import { TrustDomain } from './spiffe-id.js';

let newTrustBundle!: (o: TrustBundleOptions, roots: readonly Buffer[]) => TrustBundle;

export interface TrustBundleOptions {
  readonly trustDomain: TrustDomain;
  /** The trust domain's X.509 roots, DER, in the publisher's order. May be empty (a domain that only issues JWT-SVIDs). */
  readonly roots: readonly Uint8Array[];
  /** The publisher's bundle sequence (SPIFFE Trust Domain and Bundle §4.1.1). Default 0. */
  readonly sequence?: number;
  /** The trust domain's JWT-SVID keys; absent when they are not known (not "none"). */
  readonly jwtAuthorities?: readonly JwtAuthority[];
}

/**
 * The roots one trust domain's workloads are verified against (SPIFFE Trust Domain and Bundle §3), with
 * the bundle's sequence and, when known, its JWT-SVID keys. Immutable; made only by
 * {@link TrustBundle.of}.
 *
 * @example
 *   const b = TrustBundle.of({ trustDomain: TrustDomain.of('cluster.local'), roots: [rootDer], sequence: 3 });
 *   b.trustDomain.idString(); // 'spiffe://cluster.local'
 */
export class TrustBundle {
  readonly trustDomain: TrustDomain;
  /** Every root, DER, in the publisher's order. */
  readonly roots: readonly Buffer[];
  /** Grows with every change of the bundle's content. */
  readonly sequence: number;
  /** The roots as concatenated PEM (what Envoy's `trusted_ca` takes). */
  readonly rootsPem: string;
  /** The trust domain's JWT-SVID keys (docs/jwt-svid.md); undefined when not known, `[]` when it has none. */
  readonly jwtAuthorities: readonly JwtAuthority[] | undefined;

  static {
    newTrustBundle = (o, roots) => new TrustBundle(o, roots);
  }

  private constructor(o: TrustBundleOptions, roots: readonly Buffer[]) {
    this.trustDomain = o.trustDomain;
    this.roots = Object.freeze([...roots]);
    this.sequence = o.sequence ?? 0;
    this.rootsPem = roots.map((der) => pemEncode(der, 'CERTIFICATE')).join('');
    this.jwtAuthorities = o.jwtAuthorities === undefined ? undefined : Object.freeze([...o.jwtAuthorities]);
    Object.freeze(this);
  }

  /**
   * Checks and builds a bundle: every root must be a DER X.509 certificate and the sequence a
   * non-negative integer (ERR_BUNDLE_MALFORMED otherwise).
   *
   * @example TrustBundle.of({ trustDomain: td, roots: pemDecode(bundlePem, 'CERTIFICATE'), sequence: 1 })
   */
  static of(o: TrustBundleOptions): TrustBundle {
    if (!(o.trustDomain instanceof TrustDomain)) throw new TypeError('bundle: TrustBundle.of expects a TrustDomain (use TrustDomain.of)');
    const sequence = o.sequence ?? 0;
    if (!Number.isSafeInteger(sequence) || sequence < 0)
      throw malformed(`the sequence of the bundle of ${o.trustDomain.name} must be a non-negative integer, got ${String(sequence)}`);
    const roots = o.roots.map((d, i) => {
      const der = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      try {
        new X509Certificate(der);
      } catch (cause) {
        throw malformed(`root ${i} of the bundle of ${o.trustDomain.name} is not a DER X.509 certificate`, cause);
      }
      return der;
    });
    return newTrustBundle({ ...o, sequence }, roots);
  }

  /** The same bundle with these JWT-SVID keys (a bundle that came without them keeps the last known ones). */
  withJwtAuthorities(jwtAuthorities: readonly JwtAuthority[] | undefined): TrustBundle {
    return newTrustBundle({ trustDomain: this.trustDomain, roots: this.roots, sequence: this.sequence, ...(jwtAuthorities !== undefined ? { jwtAuthorities } : {}) }, this.roots);
  }

  /** For logs and JSON: the trust domain, sequence and number of roots (the roots themselves are public but long). */
  toJSON(): { trustDomain: string; sequence: number; roots: number } {
    return { trustDomain: this.trustDomain.name, sequence: this.sequence, roots: this.roots.length };
  }
}

function malformed(message: string, cause?: unknown): CastellanError<SpiffeBundleErrorCode> {
  return new CastellanError('ERR_BUNDLE_MALFORMED', `bundle: ${message}`, cause === undefined ? {} : { cause });
}

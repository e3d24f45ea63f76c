// Original file: proto/spiffe/workload/workload.proto

import type { X509SVID as _X509SVID, X509SVID__Output as _X509SVID__Output } from './X509SVID.js';

export interface X509SVIDResponse {
  /**
   * The caller's X.509-SVIDs; the first one is the default.
   */
  'svids'?: (_X509SVID)[];
  /**
   * ASN.1 DER CRLs (none served).
   */
  'crl'?: (Buffer | Uint8Array | string)[];
  /**
   * Bundles of foreign trust domains, keyed by trust domain ID (`spiffe://example.org`).
   */
  'federatedBundles'?: ({[key: string]: Buffer | Uint8Array | string});
}

export interface X509SVIDResponse__Output {
  /**
   * The caller's X.509-SVIDs; the first one is the default.
   */
  'svids': (_X509SVID__Output)[];
  /**
   * ASN.1 DER CRLs (none served).
   */
  'crl': (Buffer)[];
  /**
   * Bundles of foreign trust domains, keyed by trust domain ID (`spiffe://example.org`).
   */
  'federatedBundles': ({[key: string]: Buffer});
}

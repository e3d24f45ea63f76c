// Original file: proto/spiffe/workload/workload.proto


export interface X509BundlesResponse {
  /**
   * ASN.1 DER CRLs (none served).
   */
  'crl'?: (Buffer | Uint8Array | string)[];
  /**
   * Every trusted bundle (own trust domain included), keyed by trust domain ID; each value is the
   * domain's roots as ASN.1 DER certificates concatenated.
   */
  'bundles'?: ({[key: string]: Buffer | Uint8Array | string});
}

export interface X509BundlesResponse__Output {
  /**
   * ASN.1 DER CRLs (none served).
   */
  'crl': (Buffer)[];
  /**
   * Every trusted bundle (own trust domain included), keyed by trust domain ID; each value is the
   * domain's roots as ASN.1 DER certificates concatenated.
   */
  'bundles': ({[key: string]: Buffer});
}

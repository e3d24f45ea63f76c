// Original file: proto/spiffe/workload/workload.proto


export interface X509SVID {
  /**
   * `spiffe://td/path`
   */
  'spiffeId'?: (string);
  /**
   * The leaf then its intermediates, ASN.1 DER certificates concatenated.
   */
  'x509Svid'?: (Buffer | Uint8Array | string);
  /**
   * The private key, PKCS#8 DER.
   */
  'x509SvidKey'?: (Buffer | Uint8Array | string);
  /**
   * The roots of the SVID's own trust domain, ASN.1 DER certificates concatenated.
   */
  'bundle'?: (Buffer | Uint8Array | string);
  /**
   * Operator hint to pick among several SVIDs (unused).
   */
  'hint'?: (string);
}

export interface X509SVID__Output {
  /**
   * `spiffe://td/path`
   */
  'spiffeId': (string);
  /**
   * The leaf then its intermediates, ASN.1 DER certificates concatenated.
   */
  'x509Svid': (Buffer);
  /**
   * The private key, PKCS#8 DER.
   */
  'x509SvidKey': (Buffer);
  /**
   * The roots of the SVID's own trust domain, ASN.1 DER certificates concatenated.
   */
  'bundle': (Buffer);
  /**
   * Operator hint to pick among several SVIDs (unused).
   */
  'hint': (string);
}

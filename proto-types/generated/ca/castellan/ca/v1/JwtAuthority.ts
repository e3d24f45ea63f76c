// Original file: proto/castellan/ca/v1/ca.proto


/**
 * A JWT-SVID signing key (JWT-SVID §6.1).
 */
export interface JwtAuthority {
  'keyId'?: (string);
  /**
   * The public key, SubjectPublicKeyInfo DER.
   */
  'publicKey'?: (Buffer | Uint8Array | string);
}

/**
 * A JWT-SVID signing key (JWT-SVID §6.1).
 */
export interface JwtAuthority__Output {
  'keyId': (string);
  /**
   * The public key, SubjectPublicKeyInfo DER.
   */
  'publicKey': (Buffer);
}

// Original file: proto/castellan/ca/v1/ca.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.js';

export interface SignJwtSvidResponse {
  'spiffeId'?: (string);
  /**
   * The JWT-SVID, JWS compact serialization.
   */
  'token'?: (string);
  /**
   * The `kid` of the signing key (a key of the trust bundle's jwt_authorities).
   */
  'keyId'?: (string);
  'issuedAt'?: (_google_protobuf_Timestamp | null);
  'expiresAt'?: (_google_protobuf_Timestamp | null);
}

export interface SignJwtSvidResponse__Output {
  'spiffeId': (string);
  /**
   * The JWT-SVID, JWS compact serialization.
   */
  'token': (string);
  /**
   * The `kid` of the signing key (a key of the trust bundle's jwt_authorities).
   */
  'keyId': (string);
  'issuedAt': (_google_protobuf_Timestamp__Output | null);
  'expiresAt': (_google_protobuf_Timestamp__Output | null);
}

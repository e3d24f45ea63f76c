// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface SignJwtSvidRequest {
  /**
   * The `aud` claim: 1 to 16 values of at most 512 bytes each (JWT-SVID §3.2; one is recommended).
   */
  'audience'?: (string)[];
  /**
   * Requested lifetime in seconds; 0 means the CA's default (5 minutes). Above the maximum: INVALID_ARGUMENT.
   */
  'ttlSeconds'?: (number | string | Long);
  /**
   * A stable name of the calling agent (for logs).
   */
  'agentId'?: (string);
}

export interface SignJwtSvidRequest__Output {
  /**
   * The `aud` claim: 1 to 16 values of at most 512 bytes each (JWT-SVID §3.2; one is recommended).
   */
  'audience': (string)[];
  /**
   * Requested lifetime in seconds; 0 means the CA's default (5 minutes). Above the maximum: INVALID_ARGUMENT.
   */
  'ttlSeconds': (number);
  /**
   * A stable name of the calling agent (for logs).
   */
  'agentId': (string);
}

// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface SignRequest {
  /**
   * PKCS#10 request, PEM or DER.
   */
  'csr'?: (Buffer | Uint8Array | string);
  /**
   * Requested lifetime in seconds; 0 means the CA's default. Above the maximum: INVALID_ARGUMENT.
   */
  'ttlSeconds'?: (number | string | Long);
  /**
   * The trust-bundle sequence the caller currently serves (agents report it; 0 if unknown).
   */
  'bundleSequence'?: (number | string | Long);
  /**
   * A stable name of the calling agent (for status reporting), e.g. its pod name.
   */
  'agentId'?: (string);
}

export interface SignRequest__Output {
  /**
   * PKCS#10 request, PEM or DER.
   */
  'csr': (Buffer);
  /**
   * Requested lifetime in seconds; 0 means the CA's default. Above the maximum: INVALID_ARGUMENT.
   */
  'ttlSeconds': (number);
  /**
   * The trust-bundle sequence the caller currently serves (agents report it; 0 if unknown).
   */
  'bundleSequence': (number);
  /**
   * A stable name of the calling agent (for status reporting), e.g. its pod name.
   */
  'agentId': (string);
}

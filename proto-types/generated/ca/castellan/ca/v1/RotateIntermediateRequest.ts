// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface RotateIntermediateRequest {
  /**
   * Lifetime of the new intermediate; 0: that of the active one (capped by the root).
   */
  'ttlSeconds'?: (number | string | Long);
}

export interface RotateIntermediateRequest__Output {
  /**
   * Lifetime of the new intermediate; 0: that of the active one (capped by the root).
   */
  'ttlSeconds': (number);
}

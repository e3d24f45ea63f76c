// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface PrepareRootRequest {
  /**
   * ec-p256, ec-p384, rsa-2048, rsa-3072; empty: that of the active intermediate.
   */
  'keyType'?: (string);
  /**
   * 0: the default (root 10 years; intermediate: the active one's lifetime).
   */
  'rootTtlSeconds'?: (number | string | Long);
  'intermediateTtlSeconds'?: (number | string | Long);
}

export interface PrepareRootRequest__Output {
  /**
   * ec-p256, ec-p384, rsa-2048, rsa-3072; empty: that of the active intermediate.
   */
  'keyType': (string);
  /**
   * 0: the default (root 10 years; intermediate: the active one's lifetime).
   */
  'rootTtlSeconds': (number);
  'intermediateTtlSeconds': (number);
}

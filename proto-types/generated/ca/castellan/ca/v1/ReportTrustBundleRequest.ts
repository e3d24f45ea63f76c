// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface ReportTrustBundleRequest {
  'agentId'?: (string);
  /**
   * The sequence of the bundle the agent serves now.
   */
  'sequence'?: (number | string | Long);
}

export interface ReportTrustBundleRequest__Output {
  'agentId': (string);
  /**
   * The sequence of the bundle the agent serves now.
   */
  'sequence': (number);
}

// Original file: proto/castellan/ca/v1/ca.proto

import type { LedgerAnchors as _castellan_ca_v1_LedgerAnchors, LedgerAnchors__Output as _castellan_ca_v1_LedgerAnchors__Output } from '../../../castellan/ca/v1/LedgerAnchors.js';
import type { Long } from '@grpc/proto-loader';

export interface LedgerState {
  /**
   * False with ledger.enabled: false (benchmarks only): nothing is recorded.
   */
  'enabled'?: (boolean);
  'location'?: (string);
  /**
   * The writer found records it committed gone or changed: it issues nothing until recovered.
   */
  'broken'?: (boolean);
  'commitFailures'?: (number | string | Long);
  'checkpointFailures'?: (number | string | Long);
  'checkpointsSkipped'?: (number | string | Long);
  /**
   * The anchors as checked now (record 1, the head witness's checkpoint); absent when not checked.
   */
  'anchors'?: (_castellan_ca_v1_LedgerAnchors | null);
  '_location'?: "location";
}

export interface LedgerState__Output {
  /**
   * False with ledger.enabled: false (benchmarks only): nothing is recorded.
   */
  'enabled': (boolean);
  'location'?: (string);
  /**
   * The writer found records it committed gone or changed: it issues nothing until recovered.
   */
  'broken': (boolean);
  'commitFailures': (number);
  'checkpointFailures': (number);
  'checkpointsSkipped': (number);
  /**
   * The anchors as checked now (record 1, the head witness's checkpoint); absent when not checked.
   */
  'anchors': (_castellan_ca_v1_LedgerAnchors__Output | null);
  '_location'?: "location";
}

// Original file: proto/castellan/ca/v1/ca.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.js';

export interface Authority {
  'id'?: (number);
  /**
   * prepared, active or retired
   */
  'state'?: (string);
  'rootSubject'?: (string);
  'rootNotAfter'?: (_google_protobuf_Timestamp | null);
  'issuerSubject'?: (string);
  'issuerNotAfter'?: (_google_protobuf_Timestamp | null);
}

export interface Authority__Output {
  'id': (number);
  /**
   * prepared, active or retired
   */
  'state': (string);
  'rootSubject': (string);
  'rootNotAfter': (_google_protobuf_Timestamp__Output | null);
  'issuerSubject': (string);
  'issuerNotAfter': (_google_protobuf_Timestamp__Output | null);
}

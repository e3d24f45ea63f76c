// Original file: proto/castellan/ca/v1/ca.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../../google/protobuf/Timestamp.js';
import type { Long } from '@grpc/proto-loader';

export interface SignResponse {
  'spiffeId'?: (string);
  /**
   * The leaf certificate, PEM.
   */
  'leaf'?: (string);
  /**
   * Intermediates above the leaf, PEM, nearest first; no root.
   */
  'intermediates'?: (string)[];
  /**
   * Every root the caller must trust now, PEM.
   */
  'trustBundle'?: (string)[];
  'bundleSequence'?: (number | string | Long);
  /**
   * Lowercase hex.
   */
  'serial'?: (string);
  'notBefore'?: (_google_protobuf_Timestamp | null);
  'notAfter'?: (_google_protobuf_Timestamp | null);
}

export interface SignResponse__Output {
  'spiffeId': (string);
  /**
   * The leaf certificate, PEM.
   */
  'leaf': (string);
  /**
   * Intermediates above the leaf, PEM, nearest first; no root.
   */
  'intermediates': (string)[];
  /**
   * Every root the caller must trust now, PEM.
   */
  'trustBundle': (string)[];
  'bundleSequence': (number);
  /**
   * Lowercase hex.
   */
  'serial': (string);
  'notBefore': (_google_protobuf_Timestamp__Output | null);
  'notAfter': (_google_protobuf_Timestamp__Output | null);
}

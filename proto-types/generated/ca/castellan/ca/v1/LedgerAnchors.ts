// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface LedgerAnchors {
  /**
   * ok, empty, broken or unavailable
   */
  'state'?: (string);
  'location'?: (string);
  'lastSeq'?: (number | string | Long);
  'headSeq'?: (number | string | Long);
  /**
   * What is wrong, for people (broken, unavailable).
   */
  'problem'?: (string);
  '_location'?: "location";
  '_lastSeq'?: "lastSeq";
  '_headSeq'?: "headSeq";
  '_problem'?: "problem";
}

export interface LedgerAnchors__Output {
  /**
   * ok, empty, broken or unavailable
   */
  'state': (string);
  'location'?: (string);
  'lastSeq'?: (number);
  'headSeq'?: (number);
  /**
   * What is wrong, for people (broken, unavailable).
   */
  'problem'?: (string);
  '_location'?: "location";
  '_lastSeq'?: "lastSeq";
  '_headSeq'?: "headSeq";
  '_problem'?: "problem";
}

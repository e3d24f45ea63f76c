// Original file: proto/castellan/ca/v1/ca.proto

import type { Authority as _castellan_ca_v1_Authority, Authority__Output as _castellan_ca_v1_Authority__Output } from '../../../castellan/ca/v1/Authority.js';
import type { Long } from '@grpc/proto-loader';

export interface AuthorityStatus {
  'trustDomain'?: (string);
  'bundleSequence'?: (number | string | Long);
  'authorities'?: (_castellan_ca_v1_Authority)[];
}

export interface AuthorityStatus__Output {
  'trustDomain': (string);
  'bundleSequence': (number);
  'authorities': (_castellan_ca_v1_Authority__Output)[];
}

// Original file: proto/castellan/ca/v1/ca.proto

import type { JwtAuthority as _castellan_ca_v1_JwtAuthority, JwtAuthority__Output as _castellan_ca_v1_JwtAuthority__Output } from '../../../castellan/ca/v1/JwtAuthority.js';
import type { Long } from '@grpc/proto-loader';

/**
 * Another trust domain's bundle, fetched from its SPIFFE bundle endpoint (docs/federation.md).
 */
export interface FederatedBundle {
  /**
   * The trust domain name, e.g. `spire.example.org` (no scheme).
   */
  'trustDomain'?: (string);
  /**
   * Its X.509 roots, PEM.
   */
  'roots'?: (string)[];
  'jwtAuthorities'?: (_castellan_ca_v1_JwtAuthority)[];
  /**
   * The publisher's spiffe_sequence (0 when it set none).
   */
  'spiffeSequence'?: (number | string | Long);
}

/**
 * Another trust domain's bundle, fetched from its SPIFFE bundle endpoint (docs/federation.md).
 */
export interface FederatedBundle__Output {
  /**
   * The trust domain name, e.g. `spire.example.org` (no scheme).
   */
  'trustDomain': (string);
  /**
   * Its X.509 roots, PEM.
   */
  'roots': (string)[];
  'jwtAuthorities': (_castellan_ca_v1_JwtAuthority__Output)[];
  /**
   * The publisher's spiffe_sequence (0 when it set none).
   */
  'spiffeSequence': (number);
}

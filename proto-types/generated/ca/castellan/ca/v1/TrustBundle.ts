// Original file: proto/castellan/ca/v1/ca.proto

import type { JwtAuthority as _castellan_ca_v1_JwtAuthority, JwtAuthority__Output as _castellan_ca_v1_JwtAuthority__Output } from '../../../castellan/ca/v1/JwtAuthority.js';
import type { FederatedBundle as _castellan_ca_v1_FederatedBundle, FederatedBundle__Output as _castellan_ca_v1_FederatedBundle__Output } from '../../../castellan/ca/v1/FederatedBundle.js';
import type { Long } from '@grpc/proto-loader';

export interface TrustBundle {
  /**
   * Increases with every change of this message (roots, active issuer or re-issue request).
   */
  'sequence'?: (number | string | Long);
  'trustDomain'?: (string);
  /**
   * Trusted roots, PEM.
   */
  'roots'?: (string)[];
  /**
   * Key id (subject key identifier, lowercase hex) of the intermediate that signs new leaves.
   */
  'activeIssuerKeyId'?: (string);
  /**
   * Non-zero after a root activation: an agent whose leaf is signed by another issuer than
   * active_issuer_key_id re-issues it at a uniformly random moment within this many seconds
   * (the CA spreads the re-issuance of all agents so that it is not stormed).
   */
  'reissueSpreadSeconds'?: (number);
  /**
   * The JWT-SVID keys of this trust domain that validators must accept now (docs/jwt-svid.md).
   */
  'jwtAuthorities'?: (_castellan_ca_v1_JwtAuthority)[];
  /**
   * Bundles of federated trust domains (docs/federation.md); their changes grow `sequence` too.
   */
  'federatedBundles'?: (_castellan_ca_v1_FederatedBundle)[];
}

export interface TrustBundle__Output {
  /**
   * Increases with every change of this message (roots, active issuer or re-issue request).
   */
  'sequence': (number);
  'trustDomain': (string);
  /**
   * Trusted roots, PEM.
   */
  'roots': (string)[];
  /**
   * Key id (subject key identifier, lowercase hex) of the intermediate that signs new leaves.
   */
  'activeIssuerKeyId': (string);
  /**
   * Non-zero after a root activation: an agent whose leaf is signed by another issuer than
   * active_issuer_key_id re-issues it at a uniformly random moment within this many seconds
   * (the CA spreads the re-issuance of all agents so that it is not stormed).
   */
  'reissueSpreadSeconds': (number);
  /**
   * The JWT-SVID keys of this trust domain that validators must accept now (docs/jwt-svid.md).
   */
  'jwtAuthorities': (_castellan_ca_v1_JwtAuthority__Output)[];
  /**
   * Bundles of federated trust domains (docs/federation.md); their changes grow `sequence` too.
   */
  'federatedBundles': (_castellan_ca_v1_FederatedBundle__Output)[];
}

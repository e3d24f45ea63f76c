// Original file: proto/castellan/ca/v1/ca.proto

import type { CertificateSummary as _castellan_ca_v1_CertificateSummary, CertificateSummary__Output as _castellan_ca_v1_CertificateSummary__Output } from '../../../castellan/ca/v1/CertificateSummary.js';

export interface AuthoritySlot {
  'id'?: (number);
  /**
   * prepared, active or retired
   */
  'state'?: (string);
  'inBundle'?: (boolean);
  'root'?: (_castellan_ca_v1_CertificateSummary | null);
  'issuer'?: (_castellan_ca_v1_CertificateSummary | null);
  'crossSigned'?: (boolean);
  'createdAt'?: (string);
  'activatedAt'?: (string);
  'retiredAt'?: (string);
  '_activatedAt'?: "activatedAt";
  '_retiredAt'?: "retiredAt";
}

export interface AuthoritySlot__Output {
  'id': (number);
  /**
   * prepared, active or retired
   */
  'state': (string);
  'inBundle': (boolean);
  'root': (_castellan_ca_v1_CertificateSummary__Output | null);
  'issuer': (_castellan_ca_v1_CertificateSummary__Output | null);
  'crossSigned': (boolean);
  'createdAt': (string);
  'activatedAt'?: (string);
  'retiredAt'?: (string);
  '_activatedAt'?: "activatedAt";
  '_retiredAt'?: "retiredAt";
}

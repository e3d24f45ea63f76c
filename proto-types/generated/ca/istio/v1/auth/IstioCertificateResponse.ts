// Original file: proto/istio/v1/auth/ca.proto

import type { Roots as _istio_v1_auth_Roots, Roots__Output as _istio_v1_auth_Roots__Output } from '../../../istio/v1/auth/Roots.js';

export interface IstioCertificateResponse {
  /**
   * PEM certificates: the leaf first, then intermediates; when root_cert is absent the last entry
   * holds every trusted root, concatenated.
   */
  'certChain'?: (string)[];
  /**
   * Newer optional field: when set, cert_chain has no roots and these are the trusted roots.
   */
  'rootCert'?: (_istio_v1_auth_Roots | null);
}

export interface IstioCertificateResponse__Output {
  /**
   * PEM certificates: the leaf first, then intermediates; when root_cert is absent the last entry
   * holds every trusted root, concatenated.
   */
  'certChain': (string)[];
  /**
   * Newer optional field: when set, cert_chain has no roots and these are the trusted roots.
   */
  'rootCert': (_istio_v1_auth_Roots__Output | null);
}

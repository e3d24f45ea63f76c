// Original file: proto/castellan/ca/v1/ca.proto


export interface CertificateSummary {
  'subject'?: (string);
  /**
   * Subject key identifier, lowercase hex.
   */
  'keyId'?: (string);
  /**
   * Lowercase hex (intermediates only).
   */
  'serial'?: (string);
  'notAfter'?: (string);
  '_serial'?: "serial";
}

export interface CertificateSummary__Output {
  'subject': (string);
  /**
   * Subject key identifier, lowercase hex.
   */
  'keyId': (string);
  /**
   * Lowercase hex (intermediates only).
   */
  'serial'?: (string);
  'notAfter': (string);
  '_serial'?: "serial";
}

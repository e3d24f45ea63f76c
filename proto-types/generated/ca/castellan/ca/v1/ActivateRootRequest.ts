// Original file: proto/castellan/ca/v1/ca.proto


export interface ActivateRootRequest {
  'force'?: (boolean);
  /**
   * Re-issuances per second the CA should see; 0: the default (50).
   */
  'reissueRate'?: (number | string);
}

export interface ActivateRootRequest__Output {
  'force': (boolean);
  /**
   * Re-issuances per second the CA should see; 0: the default (50).
   */
  'reissueRate': (number);
}

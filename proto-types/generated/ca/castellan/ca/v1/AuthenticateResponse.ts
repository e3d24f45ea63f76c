// Original file: proto/castellan/ca/v1/ca.proto


export interface AuthenticateResponse {
  /**
   * The SPIFFE ID the caller's credentials stand for (what Sign would issue).
   */
  'spiffeId'?: (string);
}

export interface AuthenticateResponse__Output {
  /**
   * The SPIFFE ID the caller's credentials stand for (what Sign would issue).
   */
  'spiffeId': (string);
}

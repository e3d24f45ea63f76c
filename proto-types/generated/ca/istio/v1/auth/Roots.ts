// Original file: proto/istio/v1/auth/ca.proto


export interface Roots {
  'caCert'?: (string)[];
}

export interface Roots__Output {
  'caCert': (string)[];
}

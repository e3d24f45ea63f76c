// Original file: proto/castellan/ca/v1/ca.proto


export interface RetireRootRequest {
  'force'?: (boolean);
}

export interface RetireRootRequest__Output {
  'force': (boolean);
}

// Original file: proto/spiffe/workload/workload.proto


export interface JWTSVIDRequest {
  'audience'?: (string)[];
  'spiffeId'?: (string);
}

export interface JWTSVIDRequest__Output {
  'audience': (string)[];
  'spiffeId': (string);
}

// Original file: proto/spiffe/workload/workload.proto


export interface JWTSVID {
  'spiffeId'?: (string);
  'svid'?: (string);
  'hint'?: (string);
}

export interface JWTSVID__Output {
  'spiffeId': (string);
  'svid': (string);
  'hint': (string);
}

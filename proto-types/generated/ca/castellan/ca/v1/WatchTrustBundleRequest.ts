// Original file: proto/castellan/ca/v1/ca.proto


export interface WatchTrustBundleRequest {
  'agentId'?: (string);
}

export interface WatchTrustBundleRequest__Output {
  'agentId': (string);
}

// Original file: proto/castellan/ca/v1/ca.proto


export interface GetRootStatusRequest {
}

export interface GetRootStatusRequest__Output {
}

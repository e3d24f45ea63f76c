// Original file: proto/castellan/ca/v1/ca.proto


export interface GetAuthorityStatusRequest {
}

export interface GetAuthorityStatusRequest__Output {
}

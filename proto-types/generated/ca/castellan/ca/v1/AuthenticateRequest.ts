// Original file: proto/castellan/ca/v1/ca.proto


export interface AuthenticateRequest {
}

export interface AuthenticateRequest__Output {
}

// Original file: proto/castellan/ca/v1/ca.proto


export interface GetHealthRequest {
}

export interface GetHealthRequest__Output {
}

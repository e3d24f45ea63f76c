// Original file: proto/castellan/agent/v1/agent.proto


export interface GetStatusRequest {
}

export interface GetStatusRequest__Output {
}

// Original file: proto/castellan/ca/v1/ca.proto


export interface ReportTrustBundleResponse {
}

export interface ReportTrustBundleResponse__Output {
}

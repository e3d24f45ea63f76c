// Original file: proto/spiffe/workload/workload.proto


/**
 * No parameters.
 */
export interface X509SVIDRequest {
}

/**
 * No parameters.
 */
export interface X509SVIDRequest__Output {
}

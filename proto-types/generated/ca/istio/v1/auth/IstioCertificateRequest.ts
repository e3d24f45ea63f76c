// Original file: proto/istio/v1/auth/ca.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../../google/protobuf/Struct.js';
import type { Long } from '@grpc/proto-loader';

export interface IstioCertificateRequest {
  /**
   * PKCS#10 request, PEM.
   */
  'csr'?: (string);
  /**
   * Requested lifetime in seconds; 0 means the CA's default.
   */
  'validityDuration'?: (number | string | Long);
  /**
   * Opaque node metadata (WorkloadName, WorkloadIP, ClusterID).
   */
  'metadata'?: (_google_protobuf_Struct | null);
}

export interface IstioCertificateRequest__Output {
  /**
   * PKCS#10 request, PEM.
   */
  'csr': (string);
  /**
   * Requested lifetime in seconds; 0 means the CA's default.
   */
  'validityDuration': (number);
  /**
   * Opaque node metadata (WorkloadName, WorkloadIP, ClusterID).
   */
  'metadata': (_google_protobuf_Struct__Output | null);
}

// Original file: proto/castellan/ca/v1/ca.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ActivateRootRequest as _castellan_ca_v1_ActivateRootRequest, ActivateRootRequest__Output as _castellan_ca_v1_ActivateRootRequest__Output } from '../../../castellan/ca/v1/ActivateRootRequest.js';
import type { GetHealthRequest as _castellan_ca_v1_GetHealthRequest, GetHealthRequest__Output as _castellan_ca_v1_GetHealthRequest__Output } from '../../../castellan/ca/v1/GetHealthRequest.js';
import type { GetHealthResponse as _castellan_ca_v1_GetHealthResponse, GetHealthResponse__Output as _castellan_ca_v1_GetHealthResponse__Output } from '../../../castellan/ca/v1/GetHealthResponse.js';
import type { GetRootStatusRequest as _castellan_ca_v1_GetRootStatusRequest, GetRootStatusRequest__Output as _castellan_ca_v1_GetRootStatusRequest__Output } from '../../../castellan/ca/v1/GetRootStatusRequest.js';
import type { PrepareRootRequest as _castellan_ca_v1_PrepareRootRequest, PrepareRootRequest__Output as _castellan_ca_v1_PrepareRootRequest__Output } from '../../../castellan/ca/v1/PrepareRootRequest.js';
import type { RetireRootRequest as _castellan_ca_v1_RetireRootRequest, RetireRootRequest__Output as _castellan_ca_v1_RetireRootRequest__Output } from '../../../castellan/ca/v1/RetireRootRequest.js';
import type { RootStepResponse as _castellan_ca_v1_RootStepResponse, RootStepResponse__Output as _castellan_ca_v1_RootStepResponse__Output } from '../../../castellan/ca/v1/RootStepResponse.js';
import type { RotateIntermediateRequest as _castellan_ca_v1_RotateIntermediateRequest, RotateIntermediateRequest__Output as _castellan_ca_v1_RotateIntermediateRequest__Output } from '../../../castellan/ca/v1/RotateIntermediateRequest.js';

/**
 * Root rotation by an operator against a running CA (`castellan root ... --server`). Callers must
 * authenticate (bearer token or client certificate) as one of the CA's admin.identities.
 */
export interface RootAdminClient extends grpc.Client {
  ActivateRoot(argument: _castellan_ca_v1_ActivateRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  ActivateRoot(argument: _castellan_ca_v1_ActivateRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  ActivateRoot(argument: _castellan_ca_v1_ActivateRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  ActivateRoot(argument: _castellan_ca_v1_ActivateRootRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  activateRoot(argument: _castellan_ca_v1_ActivateRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  activateRoot(argument: _castellan_ca_v1_ActivateRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  activateRoot(argument: _castellan_ca_v1_ActivateRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  activateRoot(argument: _castellan_ca_v1_ActivateRootRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The CA's health as `castellan check --server` judges it: build, readiness, serving certificate,
   * ledger (writer state and anchors), rotation status with agents. Answered while not ready too.
   */
  GetHealth(argument: _castellan_ca_v1_GetHealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  GetHealth(argument: _castellan_ca_v1_GetHealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  GetHealth(argument: _castellan_ca_v1_GetHealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  GetHealth(argument: _castellan_ca_v1_GetHealthRequest, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The CA's health as `castellan check --server` judges it: build, readiness, serving certificate,
   * ledger (writer state and anchors), rotation status with agents. Answered while not ready too.
   */
  getHealth(argument: _castellan_ca_v1_GetHealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  getHealth(argument: _castellan_ca_v1_GetHealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  getHealth(argument: _castellan_ca_v1_GetHealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  getHealth(argument: _castellan_ca_v1_GetHealthRequest, callback: grpc.requestCallback<_castellan_ca_v1_GetHealthResponse__Output>): grpc.ClientUnaryCall;
  
  GetRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  GetRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  GetRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  GetRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  getRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  getRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  getRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  getRootStatus(argument: _castellan_ca_v1_GetRootStatusRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  
  PrepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  PrepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  PrepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  PrepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  prepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  prepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  prepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  prepareRoot(argument: _castellan_ca_v1_PrepareRootRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  
  RetireRoot(argument: _castellan_ca_v1_RetireRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  RetireRoot(argument: _castellan_ca_v1_RetireRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  RetireRoot(argument: _castellan_ca_v1_RetireRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  RetireRoot(argument: _castellan_ca_v1_RetireRootRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  retireRoot(argument: _castellan_ca_v1_RetireRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  retireRoot(argument: _castellan_ca_v1_RetireRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  retireRoot(argument: _castellan_ca_v1_RetireRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  retireRoot(argument: _castellan_ca_v1_RetireRootRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * A new intermediate under the active root signs from now on (`castellan root rotate-intermediate`):
   * what the CA does on its own at rotation.intermediateRotateAt, on demand.
   */
  RotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  RotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  RotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  RotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  /**
   * A new intermediate under the active root signs from now on (`castellan root rotate-intermediate`):
   * what the CA does on its own at rotation.intermediateRotateAt, on demand.
   */
  rotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  rotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  rotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  rotateIntermediate(argument: _castellan_ca_v1_RotateIntermediateRequest, callback: grpc.requestCallback<_castellan_ca_v1_RootStepResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Root rotation by an operator against a running CA (`castellan root ... --server`). Callers must
 * authenticate (bearer token or client certificate) as one of the CA's admin.identities.
 */
export interface RootAdminHandlers extends grpc.UntypedServiceImplementation {
  ActivateRoot: grpc.handleUnaryCall<_castellan_ca_v1_ActivateRootRequest__Output, _castellan_ca_v1_RootStepResponse>;
  
  /**
   * The CA's health as `castellan check --server` judges it: build, readiness, serving certificate,
   * ledger (writer state and anchors), rotation status with agents. Answered while not ready too.
   */
  GetHealth: grpc.handleUnaryCall<_castellan_ca_v1_GetHealthRequest__Output, _castellan_ca_v1_GetHealthResponse>;
  
  GetRootStatus: grpc.handleUnaryCall<_castellan_ca_v1_GetRootStatusRequest__Output, _castellan_ca_v1_RootStepResponse>;
  
  PrepareRoot: grpc.handleUnaryCall<_castellan_ca_v1_PrepareRootRequest__Output, _castellan_ca_v1_RootStepResponse>;
  
  RetireRoot: grpc.handleUnaryCall<_castellan_ca_v1_RetireRootRequest__Output, _castellan_ca_v1_RootStepResponse>;
  
  /**
   * A new intermediate under the active root signs from now on (`castellan root rotate-intermediate`):
   * what the CA does on its own at rotation.intermediateRotateAt, on demand.
   */
  RotateIntermediate: grpc.handleUnaryCall<_castellan_ca_v1_RotateIntermediateRequest__Output, _castellan_ca_v1_RootStepResponse>;
  
}

export interface RootAdminDefinition extends grpc.ServiceDefinition {
  ActivateRoot: MethodDefinition<_castellan_ca_v1_ActivateRootRequest, _castellan_ca_v1_RootStepResponse, _castellan_ca_v1_ActivateRootRequest__Output, _castellan_ca_v1_RootStepResponse__Output>
  GetHealth: MethodDefinition<_castellan_ca_v1_GetHealthRequest, _castellan_ca_v1_GetHealthResponse, _castellan_ca_v1_GetHealthRequest__Output, _castellan_ca_v1_GetHealthResponse__Output>
  GetRootStatus: MethodDefinition<_castellan_ca_v1_GetRootStatusRequest, _castellan_ca_v1_RootStepResponse, _castellan_ca_v1_GetRootStatusRequest__Output, _castellan_ca_v1_RootStepResponse__Output>
  PrepareRoot: MethodDefinition<_castellan_ca_v1_PrepareRootRequest, _castellan_ca_v1_RootStepResponse, _castellan_ca_v1_PrepareRootRequest__Output, _castellan_ca_v1_RootStepResponse__Output>
  RetireRoot: MethodDefinition<_castellan_ca_v1_RetireRootRequest, _castellan_ca_v1_RootStepResponse, _castellan_ca_v1_RetireRootRequest__Output, _castellan_ca_v1_RootStepResponse__Output>
  RotateIntermediate: MethodDefinition<_castellan_ca_v1_RotateIntermediateRequest, _castellan_ca_v1_RootStepResponse, _castellan_ca_v1_RotateIntermediateRequest__Output, _castellan_ca_v1_RootStepResponse__Output>
}

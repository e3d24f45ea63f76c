// Original file: proto/castellan/agent/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetStatusRequest as _castellan_agent_v1_GetStatusRequest, GetStatusRequest__Output as _castellan_agent_v1_GetStatusRequest__Output } from '../../../castellan/agent/v1/GetStatusRequest.js';
import type { GetStatusResponse as _castellan_agent_v1_GetStatusResponse, GetStatusResponse__Output as _castellan_agent_v1_GetStatusResponse__Output } from '../../../castellan/agent/v1/GetStatusResponse.js';

export interface AgentStatusClient extends grpc.Client {
  /**
   * What the agent holds now: its trust bundle and the certificates it serves, never a private key.
   * Sidecar mode: the pod's identity. Node mode: only the identity the caller's token
   * (`authorization: Bearer`) already stands for on this agent (no CA call, nothing is issued);
   * without a token, none, only how many the agent holds.
   */
  GetStatus(argument: _castellan_agent_v1_GetStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _castellan_agent_v1_GetStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _castellan_agent_v1_GetStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _castellan_agent_v1_GetStatusRequest, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What the agent holds now: its trust bundle and the certificates it serves, never a private key.
   * Sidecar mode: the pod's identity. Node mode: only the identity the caller's token
   * (`authorization: Bearer`) already stands for on this agent (no CA call, nothing is issued);
   * without a token, none, only how many the agent holds.
   */
  getStatus(argument: _castellan_agent_v1_GetStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _castellan_agent_v1_GetStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _castellan_agent_v1_GetStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _castellan_agent_v1_GetStatusRequest, callback: grpc.requestCallback<_castellan_agent_v1_GetStatusResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AgentStatusHandlers extends grpc.UntypedServiceImplementation {
  /**
   * What the agent holds now: its trust bundle and the certificates it serves, never a private key.
   * Sidecar mode: the pod's identity. Node mode: only the identity the caller's token
   * (`authorization: Bearer`) already stands for on this agent (no CA call, nothing is issued);
   * without a token, none, only how many the agent holds.
   */
  GetStatus: grpc.handleUnaryCall<_castellan_agent_v1_GetStatusRequest__Output, _castellan_agent_v1_GetStatusResponse>;
  
}

export interface AgentStatusDefinition extends grpc.ServiceDefinition {
  GetStatus: MethodDefinition<_castellan_agent_v1_GetStatusRequest, _castellan_agent_v1_GetStatusResponse, _castellan_agent_v1_GetStatusRequest__Output, _castellan_agent_v1_GetStatusResponse__Output>
}

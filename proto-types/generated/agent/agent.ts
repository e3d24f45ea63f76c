import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentStatusClient as _castellan_agent_v1_AgentStatusClient, AgentStatusDefinition as _castellan_agent_v1_AgentStatusDefinition } from './castellan/agent/v1/AgentStatus.js';
import type { GetStatusRequest as _castellan_agent_v1_GetStatusRequest, GetStatusRequest__Output as _castellan_agent_v1_GetStatusRequest__Output } from './castellan/agent/v1/GetStatusRequest.js';
import type { GetStatusResponse as _castellan_agent_v1_GetStatusResponse, GetStatusResponse__Output as _castellan_agent_v1_GetStatusResponse__Output } from './castellan/agent/v1/GetStatusResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  castellan: {
    agent: {
      v1: {
        AgentStatus: SubtypeConstructor<typeof grpc.Client, _castellan_agent_v1_AgentStatusClient> & { service: _castellan_agent_v1_AgentStatusDefinition }
        GetStatusRequest: MessageTypeDefinition<_castellan_agent_v1_GetStatusRequest, _castellan_agent_v1_GetStatusRequest__Output>
        GetStatusResponse: MessageTypeDefinition<_castellan_agent_v1_GetStatusResponse, _castellan_agent_v1_GetStatusResponse__Output>
      }
    }
  }
}


import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { AgentV1 } from '../proto-types/index.js';
import { CastellanError, grpcDetails } from '../workload-identity/index.js';
import type { AgentStatusReport } from './agent-status.js';
import { agentStatusClient } from './protos.js';

/** Why `castellan agent status` got no answer: nothing serves the socket, or it is no (recent) Castellan agent. */
export type AgentStatusErrorCode = 'ERR_AGENT_UNREACHABLE' | 'ERR_AGENT_STATUS';

/**
 * Asks the agent on `socketPath` what it holds (`castellan.agent.v1.AgentStatus/GetStatus`). `token`
 * (node mode): the pod's service-account token; the answer shows the identity it stands for, if the
 * agent holds it. Nothing is issued and no key crosses the socket.
 *
 * @example const s = await fetchAgentStatus('/var/run/castellan/sds.sock', { token });
 */
export async function fetchAgentStatus(socketPath: string, o: { token?: string; timeoutMs?: number } = {}): Promise<AgentStatusReport> {
  const client = new (agentStatusClient())(`unix:${socketPath}`, credentials.createInsecure(), { 'grpc.enable_channelz': 0 });
  const md = new Metadata();
  if (o.token !== undefined) md.set('authorization', `Bearer ${o.token}`);
  try {
    const r = await new Promise<AgentV1.GetStatusResponse__Output | undefined>((resolve, reject) => {
      client.GetStatus({}, md, { deadline: Date.now() + (o.timeoutMs ?? 10_000) }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    return JSON.parse(r?.statusJson ?? '{}') as AgentStatusReport;
  } catch (err) {
    const e = err as ServiceError;
    if (e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED) {
      throw new CastellanError(
        'ERR_AGENT_UNREACHABLE',
        `agent status: no agent answers on ${socketPath} (${grpcDetails(e.details ?? '')}); check --socket (the agent's --socket, default /var/run/castellan/sds.sock) and that this user may open it`,
        { cause: err },
      );
    }
    if (e.code === status.UNIMPLEMENTED)
      throw new CastellanError('ERR_AGENT_STATUS', `agent status: the agent on ${socketPath} has no status service (an older Castellan, or not a Castellan agent)`, { cause: err });
    throw new CastellanError('ERR_AGENT_STATUS', `agent status: ${grpcDetails(e.details ?? String(err))}`, { cause: err });
  } finally {
    client.close();
  }
}

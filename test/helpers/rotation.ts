import { AgentTracker, directoryStore, openLedgerStore } from '../../ca/index.js';
import { memoryLog } from './ca-server.js';

export const AGENT_IDENTITY = 'spiffe://cluster.local/ns/castellan-system/sa/castellan-agent';

/** What a running CA replica publishes about an agent serving bundle `sequence`: written by the real tracker. */
export async function reportAgent(dir: string, sequence: number, agentId = 'node-a'): Promise<void> {
  const tracker = new AgentTracker({ reports: directoryStore(dir).agentReports, replicaId: 'ca-0', now: () => new Date(), log: memoryLog().log });
  tracker.serving();
  tracker.report({ agentId, identity: AGENT_IDENTITY, sequence, peer: 'ipv4:10.0.0.7:5000' });
  await tracker.flush();
  await tracker.stop();
}

/** The lifecycle events in the CA directory's SQLite ledger, oldest first. */
export async function lifecycleEvents(dir: string): Promise<string[]> {
  const store = await openLedgerStore({ dir, readOnly: true });
  try {
    return (await store.scan(0, 100_000)).filter((r) => r.type === 'lifecycle').map((r) => r.event!);
  } finally {
    await store.close();
  }
}

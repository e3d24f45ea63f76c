import { describe, expect, it, afterEach } from 'vitest';
import { AgentTracker, directoryStore, readAgentReports } from '../../../ca/index.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';

const AGENT_SA = 'spiffe://cluster.local/ns/castellan-system/sa/castellan-agent';
let t: ReturnType<typeof tempDir>;
afterEach(() => t.cleanup());

function tracker(dir: string, replicaId: string, now: () => Date) {
  const t = new AgentTracker({ reports: directoryStore(dir).agentReports, replicaId, now, log: memoryLog().log });
  t.serving();
  return t;
}

describe('agent reports across CA replicas', () => {
  it('ok/an agent whose stream is on one replica and whose reports reach another counts with the highest sequence', async () => {
    t = tempDir();
    const now = () => new Date();
    const x = tracker(t.dir, 'ca-x', now);
    const y = tracker(t.dir, 'ca-y', now);
    const close = x.connected({ agentId: 'node-1', identity: AGENT_SA, peer: 'ipv4:10.0.0.1:1' });
    x.report({ agentId: 'node-1', identity: AGENT_SA, sequence: 4, peer: 'ipv4:10.0.0.1:1' });
    y.report({ agentId: 'node-1', identity: AGENT_SA, sequence: 5, peer: 'ipv4:10.0.0.1:2' });
    await y.flush();
    await x.flush(); // x writes last, with the stream open and the older sequence
    const view = await readAgentReports(t.dir, new Date());
    expect(view.known).toBe(true);
    expect(view.live).toEqual([expect.objectContaining({ agentId: 'node-1', identity: AGENT_SA, sequence: 5, connected: true })]);
    close();
    await x.stop();
    await y.stop();
  });

  it('ok/a Sign refreshes a known agent but never creates one (a node agent signs for many pod identities)', async () => {
    t = tempDir();
    const x = tracker(t.dir, 'ca-x', () => new Date());
    x.signed({ agentId: 'node-1', identity: 'spiffe://cluster.local/ns/shop/sa/web', sequence: 1, peer: 'p' });
    expect(x.list()).toEqual([]);
    x.report({ agentId: 'node-1', identity: AGENT_SA, sequence: 1, peer: 'p' });
    x.signed({ agentId: 'node-1', identity: AGENT_SA, sequence: 2, peer: 'p' });
    expect(x.list()).toEqual([expect.objectContaining({ agentId: 'node-1', sequence: 2 })]);
    await x.stop();
  });

  it('fail/no fresh report from any replica: the view is unknown (the activation gate refuses)', async () => {
    t = tempDir();
    let clock = new Date('2026-11-22T10:00:00Z');
    const x = tracker(t.dir, 'ca-x', () => clock);
    x.report({ agentId: 'node-1', identity: AGENT_SA, sequence: 1, peer: 'p' });
    await x.flush();
    await x.stop();
    expect((await readAgentReports(t.dir, clock)).known).toBe(true);
    clock = new Date(clock.getTime() + 10 * 60_000);
    const later = await readAgentReports(t.dir, clock);
    expect(later).toMatchObject({ known: false, live: [] });
    expect(later.why).toContain('is the CA running?');
    const empty = tempDir();
    expect((await readAgentReports(empty.dir, clock)).why).toContain('no CA has reported its agents');
    empty.cleanup();
  });
});

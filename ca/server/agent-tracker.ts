import type { Logger } from 'pino';
import type { AgentReport, AgentView } from '../authority-rotation.js';
import { caError } from '../errors.js';
import { storeOf, type CaStoreRef } from '../load-ca.js';
import type { AgentReportStore, FederationReport, ReplicaReport } from '../store/index.js';
import { peerIp } from './issuance-service.js';
/** An agent not heard from for this long is not live (it does not gate root activation). */
export const DEFAULT_AGENT_LIVENESS_MS = 5 * 60_000;
/** How often a replica rewrites its report while agents are connected (their liveness). */
export const DEFAULT_AGENT_HEARTBEAT_MS = 30_000;
/** Agents remembered per replica; beyond it the longest unseen is forgotten. */
const MAX_AGENTS = 100_000;
/** Agent ids one identity may have at once (a DaemonSet's service account: one per node). */
export const DEFAULT_MAX_AGENTS_PER_IDENTITY = 10_000;
/** Agent ids one identity may have from one IP address (one agent there; a few ids over its restarts). */
export const DEFAULT_MAX_AGENTS_PER_IDENTITY_PEER = 8;
const FORGET_AFTER_MS = 86_400_000;

interface AgentEntry {
  agentId: string;
  /** The authenticated identity the agent called with: an agent id alone is only a claim. */
  identity: string;
  sequence: number;
  lastSeen: number;
  streams: number;
  peer: string;
  /** The IP address the agent was first heard from: what its per-address bound counts. */
  readonly home: string;
}

/**
 * A replica that started serving less than this ago may not know its agents yet (they reconnect after
 * a restart within seconds, with backoff): its report alone does not make the agents "known".
 */
export const DEFAULT_AGENT_WARMUP_MS = 30_000;

export interface AgentTrackerOptions {
  /** Where the report is published (the CA's store). Absent: memory only. */
  readonly reports?: AgentReportStore;
  readonly replicaId: string;
  readonly now: () => Date;
  readonly heartbeatMs?: number;
  /** rotation.agentLiveness, published with the report. Default 5 min. */
  readonly livenessMs?: number;
  /** rotation.agentWarmup, published with the report: how long after start an empty report says nothing. Default 30 s. */
  readonly warmupMs?: number;
  /** rotation.intermediateRotateAt, published with the report. */
  readonly intermediateRotateAt?: number;
  /** Published with the report when it returns something (the leader's federation status, docs/federation.md). */
  readonly federation?: () => readonly FederationReport[] | undefined;
  /** limits.maxAgentsPerIdentity: agent ids one identity may make this replica track. Default 10000. */
  readonly maxAgentsPerIdentity?: number;
  /** limits.maxAgentsPerIdentityPeer: the same, from one IP address. Default 8. */
  readonly maxAgentsPerIdentityPeer?: number;
  readonly log: Logger;
}

/**
 * The agents this CA replica hears from (Sign, ReportTrustBundle, WatchTrustBundle) and the bundle
 * sequence each serves (docs/architecture.md §6). Published as a file in the CA directory so that `castellan root`
 * (and other replicas) see every replica's agents; kept across restarts by reading it back.
 *
 * @example tracker.report({ agentId, identity, sequence, peer }); const view = await readAgentReports(dir, now);
 */
export class AgentTracker {
  private readonly agents = new Map<string, AgentEntry>();
  /** Agent ids per identity (bounded by maxAgentsPerIdentity). */
  private readonly perIdentity = new Map<string, number>();
  /** Agent entries per identity and home address (bounded by maxAgentsPerIdentityPeer), by key. */
  private readonly perIdentityPeer = new Map<string, Set<string>>();
  private dirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Set by serving(): nothing is published before the CA serves (a failed start must not report "no agents"). */
  private servingSince: Date | undefined;

  constructor(private readonly o: AgentTrackerOptions) {}

  /** Loads this replica's previous report (agents stay known across a restart). Publishes nothing yet. */
  async start(): Promise<void> {
    if (this.o.reports) {
      const file = await this.o.reports.own(this.o.replicaId).catch(() => undefined);
      for (const a of file?.agents ?? [])
        this.add({ agentId: a.agentId, identity: a.identity, sequence: a.sequence, lastSeen: Date.parse(a.lastSeen), streams: 0, peer: a.peer, home: peerIp(a.peer) });
    }
  }

  /**
   * The CA serves now (every listener bound, ready): from here on the report is published, with the
   * heartbeat. Before, a report saying "no agents" would open the root-activation gate for a CA that
   * never served (SECURITY.md).
   */
  serving(): void {
    if (this.servingSince || this.stopped) return;
    this.servingSince = this.o.now();
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs ?? DEFAULT_AGENT_HEARTBEAT_MS);
    this.heartbeat.unref();
    this.schedule();
  }

  /** Something published with the report changed (federation status): write it soon. */
  publishSoon(): void {
    this.schedule();
  }

  /** An agent reported the sequence it serves (ReportTrustBundle). A lower sequence than known is kept as reported: the agent knows best. */
  report(a: { agentId: string; identity: string; sequence?: number; peer: string }): void {
    const known = this.agents.size;
    const e = this.entry(a.agentId, a.identity, a.peer);
    const changed = a.sequence !== undefined && a.sequence > 0 && a.sequence !== e.sequence;
    if (changed) e.sequence = a.sequence!;
    // What others judge by (a new agent, another sequence) is written soon; lastSeen rides on the heartbeat.
    if (changed || this.agents.size !== known) this.schedule();
  }

  /**
   * A Sign call carried an agent id: it refreshes an agent already known under this identity, never
   * creates one (a node agent signs for many pod identities; only its own stream and reports define it).
   */
  signed(a: { agentId: string; identity: string; sequence: number; peer: string }): void {
    const e = this.agents.get(keyOf(a.identity, a.agentId));
    if (!e) return;
    e.lastSeen = this.o.now().getTime();
    if (a.sequence > 0 && a.sequence !== e.sequence) {
      e.sequence = a.sequence;
      this.schedule();
    }
  }

  /** An agent opened its trust-bundle stream; the returned function closes it. Connected agents are live. */
  connected(a: { agentId: string; identity: string; peer: string }): () => void {
    const e = this.entry(a.agentId, a.identity, a.peer);
    if (e.streams++ === 0) this.schedule();
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      e.lastSeen = this.o.now().getTime();
      if (--e.streams === 0) this.schedule();
    };
  }

  /** Every agent this replica knows, newest first. */
  list(): AgentReport[] {
    return [...this.agents.values()].map(toReport).sort((x, y) => y.lastSeen.localeCompare(x.lastSeen));
  }

  /** Sequences reported by the agents live now (stream open, or heard from within the liveness). */
  liveSequences(): number[] {
    const now = this.o.now().getTime();
    const liveFor = this.o.livenessMs ?? DEFAULT_AGENT_LIVENESS_MS;
    return [...this.agents.values()].filter((e) => e.streams > 0 || now - e.lastSeen <= liveFor).map((e) => e.sequence);
  }

  /** Writes the report now (tests and `root` commands served by this process). */
  async flush(): Promise<void> {
    this.dirty = true;
    await this.write();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.writing;
    if (this.dirty && this.canPublish()) await this.writeNow();
  }

  private canPublish(): boolean {
    return this.o.reports !== undefined && this.servingSince !== undefined;
  }

  /**
   * The entry of an agent, created when new. Agent ids are claims (SECURITY.md): one identity may make
   * this replica track at most maxAgentsPerIdentity of them, and at most maxAgentsPerIdentityPeer from
   * one address. At the per-address bound the identity's own longest-unseen agent there that holds no
   * stream is forgotten (a workload re-inventing ids only displaces its own claims); when all hold a
   * stream, or at the per-identity bound, the new id is refused (RESOURCE_EXHAUSTED).
   */
  private entry(agentId: string, identity: string, peer: string): AgentEntry {
    const key = keyOf(identity, agentId);
    let e = this.agents.get(key);
    if (!e) {
      const home = peerIp(peer);
      const perPeerMax = this.o.maxAgentsPerIdentityPeer ?? DEFAULT_MAX_AGENTS_PER_IDENTITY_PEER;
      const here = this.perIdentityPeer.get(keyOf(identity, home));
      if (here && here.size >= perPeerMax) {
        let oldest: [string, AgentEntry] | undefined;
        for (const k of here) {
          const other = this.agents.get(k)!;
          if (other.streams === 0 && (!oldest || other.lastSeen < oldest[1].lastSeen)) oldest = [k, other];
        }
        if (!oldest) {
          throw caError(
            'ERR_RATE_LIMITED',
            `ca: ${identity} already has ${perPeerMax} agent ids from ${home} with an open trust-bundle stream; an agent id names one agent (e.g. its node or pod), not a request`,
          );
        }
        this.forget(oldest[0], oldest[1]);
      }
      const perIdentityMax = this.o.maxAgentsPerIdentity ?? DEFAULT_MAX_AGENTS_PER_IDENTITY;
      if ((this.perIdentity.get(identity) ?? 0) >= perIdentityMax) {
        throw caError('ERR_RATE_LIMITED', `ca: ${identity} already reports ${perIdentityMax} agent ids; an agent id names one agent (e.g. its node or pod), not a request`);
      }
      if (this.agents.size >= MAX_AGENTS) this.forgetOldest();
      e = { agentId, identity, sequence: 0, lastSeen: 0, streams: 0, peer, home };
      this.add(e);
    }
    e.lastSeen = this.o.now().getTime();
    e.peer = peer;
    return e;
  }

  private add(e: AgentEntry): void {
    const key = keyOf(e.identity, e.agentId);
    this.agents.set(key, e);
    this.perIdentity.set(e.identity, (this.perIdentity.get(e.identity) ?? 0) + 1);
    const pair = keyOf(e.identity, e.home);
    let here = this.perIdentityPeer.get(pair);
    if (!here) {
      here = new Set();
      this.perIdentityPeer.set(pair, here);
    }
    here.add(key);
  }

  private forget(key: string, e: AgentEntry): void {
    this.agents.delete(key);
    const n = (this.perIdentity.get(e.identity) ?? 1) - 1;
    if (n > 0) this.perIdentity.set(e.identity, n);
    else this.perIdentity.delete(e.identity);
    const pair = keyOf(e.identity, e.home);
    const here = this.perIdentityPeer.get(pair);
    here?.delete(key);
    if (here?.size === 0) this.perIdentityPeer.delete(pair);
  }

  private forgetOldest(): void {
    let oldest: [string, AgentEntry] | undefined;
    for (const kv of this.agents) if (kv[1].streams === 0 && (!oldest || kv[1].lastSeen < oldest[1].lastSeen)) oldest = kv;
    if (oldest) this.forget(oldest[0], oldest[1]);
  }

  private beat(): void {
    const now = this.o.now().getTime();
    for (const [k, e] of this.agents) {
      if (e.streams > 0) e.lastSeen = now;
      // Gone for a day: not live by any setting, and a node's pod churn must not grow the report forever.
      else if (now - e.lastSeen > FORGET_AFTER_MS) this.forget(k, e);
    }
    this.dirty = true;
    void this.write();
  }

  private schedule(): void {
    this.dirty = true;
    if (this.flushTimer || this.stopped || !this.canPublish()) return;
    // Coalesce a burst of reports (every agent answering one bundle push) into one write.
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.write();
    }, 200);
    this.flushTimer.unref();
  }

  private write(): Promise<void> {
    this.writing = this.writing.then(() => (this.dirty && this.canPublish() ? this.writeNow() : undefined));
    return this.writing;
  }

  private async writeNow(): Promise<void> {
    this.dirty = false;
    const now = this.o.now();
    const report: ReplicaReport = {
      format: 1,
      replica: this.o.replicaId,
      writtenAt: now.toISOString(),
      servingSince: this.servingSince!.toISOString(),
      warmupMs: this.o.warmupMs ?? DEFAULT_AGENT_WARMUP_MS,
      livenessMs: this.o.livenessMs ?? DEFAULT_AGENT_LIVENESS_MS,
      ...(this.o.intermediateRotateAt !== undefined ? { intermediateRotateAt: this.o.intermediateRotateAt } : {}),
      agents: this.list().map((a) => ({ agentId: a.agentId, identity: a.identity ?? '', sequence: a.sequence, lastSeen: a.lastSeen, connected: a.connected, peer: a.peer ?? '' })),
    };
    const federation = this.o.federation?.();
    if (federation) Object.assign(report, { federation });
    try {
      await this.o.reports!.publish(report);
    } catch (err) {
      this.o.log.warn({ err }, 'agents: cannot publish the agent report; root activation gates may see stale data');
    }
  }
}

function keyOf(identity: string, agentId: string): string {
  return `${identity} ${agentId}`;
}

function toReport(e: AgentEntry): AgentReport {
  return { agentId: e.agentId, identity: e.identity, peer: e.peer, sequence: e.sequence, lastSeen: new Date(e.lastSeen).toISOString(), connected: e.streams > 0 };
}

/**
 * What every CA replica reported about its agents (`<dir>/agents/*.json`): the live ones (connected at
 * the last report, or heard from within the liveness the replica published, else `livenessMs`), newest
 * report per agent. `known` is false when
 * no replica reported within `freshMs` (no CA is running: nobody can say which agents exist).
 *
 * @example const view = await readAgentReports('/ca', new Date()); if (!view.known) ...
 */
export async function readAgentReports(
  from: AgentReportStore | CaStoreRef,
  now: Date,
  o: { livenessMs?: number; freshMs?: number; warmupMs?: number } = {},
): Promise<AgentView & { replicas: { replica: string; writtenAt: string; servingSince?: string; intermediateRotateAt?: number }[] }> {
  const livenessMs = o.livenessMs ?? DEFAULT_AGENT_LIVENESS_MS;
  const freshMs = o.freshMs ?? 2 * DEFAULT_AGENT_HEARTBEAT_MS + 10_000;
  const warmupMs = o.warmupMs ?? DEFAULT_AGENT_WARMUP_MS;
  const replicas: { replica: string; writtenAt: string; servingSince?: string; intermediateRotateAt?: number }[] = [];
  const newest = new Map<string, AgentReport>();
  let fresh = false;
  let warmingUp = 0;
  const reports = typeof from === 'string' || 'agentReports' in from ? storeOf(from).agentReports : from;
  for (const r of await reports.all()) {
    replicas.push({
      replica: r.replica,
      writtenAt: r.writtenAt,
      ...(r.servingSince !== undefined ? { servingSince: r.servingSince } : {}),
      ...(r.intermediateRotateAt !== undefined ? { intermediateRotateAt: r.intermediateRotateAt } : {}),
    });
    const reportFresh = now.getTime() - Date.parse(r.writtenAt) <= freshMs;
    // A replica that only just started may not have heard from its agents yet: its empty report says nothing.
    const warm = r.agents.length > 0 || r.servingSince === undefined || now.getTime() - Date.parse(r.servingSince) >= (r.warmupMs ?? warmupMs);
    if (reportFresh && warm) fresh = true;
    if (reportFresh && !warm) warmingUp = Math.max(warmingUp, r.warmupMs ?? warmupMs);
    const liveFor = r.livenessMs ?? livenessMs;
    for (const a of r.agents) {
      const live = (a.connected && reportFresh) || now.getTime() - Date.parse(a.lastSeen) <= liveFor;
      if (!live) continue;
      const k = keyOf(a.identity, a.agentId);
      const prev = newest.get(k);
      // One agent may be heard by several replicas (its stream on one, its reports on another): the
      // highest sequence any replica heard is what it serves (agents never go back).
      newest.set(k, {
        agentId: a.agentId,
        identity: a.identity,
        sequence: Math.max(prev?.sequence ?? 0, a.sequence),
        lastSeen: prev && prev.lastSeen > a.lastSeen ? prev.lastSeen : a.lastSeen,
        connected: Boolean(prev?.connected) || (a.connected && reportFresh),
      });
    }
  }
  return {
    known: fresh,
    ...(fresh
      ? {}
      : {
          why:
            replicas.length === 0
              ? 'no CA has reported its agents (is the CA running with this store?)'
              : warmingUp > 0
                ? `the running CA started less than ${Math.round(warmingUp / 1000)} s ago and may not have heard from every agent yet; retry shortly`
                : `no CA reported its agents in the last ${Math.round(freshMs / 1000)} s (is the CA running?)`,
        }),
    live: [...newest.values()],
    replicas,
  };
}

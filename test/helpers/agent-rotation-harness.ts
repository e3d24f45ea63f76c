import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { startAgent, type Agent, type AgentOptions } from '../../sds/agent.js';
import { pemToDer } from '../../sds/ca-client.js';
import { memoryLog } from './ca-server.js';
import { EnvoySdsClient, type SotwResponse, type SotwStream } from './envoy-sds-client.js';
import { tempDir } from './test-ca.js';
import { FAST_CHANNEL } from './agent-fixture.js';
import { until } from './until.js';
import { fakeToken, type caStandIn } from './ca-stand-in.js';

/**
 * Shared set-up of the root-rotation tests: `h.ca` (the CA stand-in, made by each test), `h.agent`
 * (closed after each test), `h.log`, a temp dir; Envoy-like SDS streams closed after each test.
 */
export const h = {} as {
  ca: Awaited<ReturnType<typeof caStandIn>>;
  agent: Agent | undefined;
  log: ReturnType<typeof memoryLog>;
  t: ReturnType<typeof tempDir>;
};
const streams: SotwStream[] = [];
const clients: EnvoySdsClient[] = [];

/** Registers the per-test set-up and clean-up (call once at the top of a test file). */
export function useRotationHarness(): void {
  beforeEach(() => {
    h.t = tempDir('castellan-rotation-');
    h.log = memoryLog();
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    for (const c of clients.splice(0)) c.sds.close(), c.workload.close();
    await h.agent?.close();
    h.agent = undefined;
    h.ca?.close();
    h.t.cleanup();
  });
}

type Entry = Record<string, unknown>;
const entries = () => h.log.lines.map((l) => JSON.parse(l) as Entry);
/** Log entries with this message. */
export const lines = (msg: string) => entries().filter((e) => e['msg'] === msg);
export const REPORT_FAILED = 'reporting the trust-bundle sequence failed; retrying';
export const UNIMPLEMENTED = 'the CA does not implement ReportTrustBundle (an older version); not reporting on this connection';

/** A sidecar agent of `shop/cart` against `h.ca` (no jitter; 1 s backoff doubling to 8 s). */
export async function sidecar(extra: Partial<AgentOptions> = {}): Promise<Agent> {
  const tokenFile = path.join(h.t.dir, 'token');
  writeFileSync(tokenFile, fakeToken('shop', 'cart'), { mode: 0o600 });
  const agent = await startAgent({
    caAddress: h.ca.address,
    caBundlePem: h.ca.caBundlePem,
    tokenFile,
    agentId: 'agent-1',
    ttlMs: 3_600_000,
    renewal: { fraction: 0.5, jitter: 0 },
    backoff: { initialMs: 1_000, maxMs: 8_000, jitter: 0 },
    log: h.log.log,
    caChannelOptions: FAST_CHANNEL,
    ...extra,
  });
  h.agent = agent;
  return agent;
}

/** An Envoy-like SotW stream for default + ROOTCA; every response lands in `h.ca.events` as `sds:<roots>:<serial>`. */
export async function envoy(socketPath: string): Promise<{ stream: SotwStream; responses: SotwResponse[] }> {
  const c = new EnvoySdsClient(socketPath);
  clients.push(c);
  const stream = c.sotw();
  streams.push(stream);
  const responses: SotwResponse[] = [];
  stream.stream.on('data', (r: SotwResponse) => {
    const rootca = r.resources.find((x) => x.name === 'ROOTCA');
    const leaf = r.resources.find((x) => x.name === 'default');
    const roots = rootca ? pemToDer(rootca.validationContext!.trustedCa!.inlineBytes.toString()).length : 0;
    const serial = leaf ? new X509Certificate(pemToDer(leaf.tlsCertificate!.certificateChain.inlineBytes.toString())[0]!).serialNumber.toLowerCase() : '-';
    responses.push(r);
    h.ca.events.push(`sds:${roots}:${serial}`);
    stream.ack(r);
  });
  stream.request({ names: ['default', 'ROOTCA'] });
  await until(() => responses.length > 0, 'the first SDS response');
  return { stream, responses };
}

/** Waits until `value` stays the same over a few event-loop polls (I/O already under way lands). */
export async function settled(value: () => number): Promise<void> {
  let last = value();
  for (let stable = 0; stable < 4; ) {
    await new Promise((r) => setTimeout(r, 25));
    const now = value();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

/** Sequences the CA accepted, in order. */
export const okReports = () => h.ca.reports.filter((r) => r.ok).map((r) => r.sequence);

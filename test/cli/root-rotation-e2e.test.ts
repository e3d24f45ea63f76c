import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certificatesFromPem, loadCa, readAgentReports } from '../../ca/index.js';
import { SdsClient, startAgent, type Agent } from '../../sds/index.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { sdsTlsHandshake, sdsTlsServer } from '../helpers/tls-endpoints.js';
import { cli } from '../helpers/cli.js';
import { opensslVerify } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
const agents: Agent[] = [];
const clients: SdsClient[] = [];
beforeEach(async () => {
  f = await agentFixture({ config: { rotation: { reloadInterval: 100 } } });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of agents.splice(0)) await a.close();
  await f.cleanup();
});

const certs = (pem: string) => certificatesFromPem(pem, { code: 'ERR_CERT_FILE', what: 'test' });
const rootsOf = (pem: string) => certs(pem).map((c) => new X509Certificate(c.der).fingerprint256);
const leafIssuedBy = (chainPem: string, issuerPem: string) => new X509Certificate(certs(chainPem)[0]!.der).checkIssued(new X509Certificate(issuerPem));

describe('zero-downtime root rotation with agents and live mTLS', () => {
  it('ok/two SDS-fed workloads keep handshaking through prepare -> activate -> retire; at the end only the new root is trusted and used', async () => {
    const sds: Record<'server' | 'client', SdsClient> = {} as never;
    for (const name of ['server', 'client'] as const) {
      const tokenFile = path.join(f.dir, `${name}.token`);
      await f.writeToken(tokenFile, 'demo', name);
      const socketPath = path.join(f.dir, `${name}.sock`);
      agents.push(
        await startAgent({
          caAddress: f.address,
          caBundlePem: f.bundlePem,
          mode: 'sidecar',
          tokenFile,
          agentId: `agent-${name}`,
          // Short leaves so that the old root's leaves expire within the test (retire's gate waits for that).
          ttlMs: 8_000,
          socketPath,
          log: f.log.log,
          caChannelOptions: FAST_CHANNEL,
        }),
      );
      sds[name] = new SdsClient({ socketPath, nodeId: `demo-${name}` });
      clients.push(sds[name]);
      await sds[name].ready();
    }
    const srv = await sdsTlsServer(sds.server);
    let handshakes = 0;
    const failures: string[] = [];
    let running = true;
    let refusalsSeen = 0;
    // Handshakes run back to back for the whole rotation; a failure is counted, not thrown.
    const loop = (async () => {
      while (running) {
        try {
          await sdsTlsHandshake(sds.client, srv.port);
          handshakes++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    try {
      const caDir = f.caDir;
      const old = await loadCa(caDir);
      await until(async () => (await readAgentReports(caDir, new Date())).live.filter((a) => a.sequence >= 1).length === 2, 'both agents reported bundle 1', 40_000);

      // prepare: the new root reaches both agents' ROOTCA, and they report it.
      const prep = await cli(['root', 'prepare', '--dir', caDir]);
      expect(prep.code, prep.err).toBe(0);
      const next = (await loadCa(caDir)).prepared!;
      const newRoot = new X509Certificate(next.root.der).fingerprint256;
      await until(
        () => (['server', 'client'] as const).every((n) => rootsOf(sds[n].current()!.trustedCaPem).includes(newRoot)),
        'both agents serve the new root in ROOTCA',
        40_000,
      );
      await until(async () => (await readAgentReports(caDir, new Date())).live.filter((a) => a.sequence >= 2).length === 2, 'both agents reported bundle 2', 40_000);

      // activate: allowed now; both agents re-issue under the new intermediate within the spread.
      const act = await cli(['root', 'activate', '--dir', caDir]);
      expect(act.code, act.err).toBe(0);
      await until(
        () => (['server', 'client'] as const).every((n) => leafIssuedBy(sds[n].current()!.certificateChainPem, next.issuer.pem)),
        'both leaves are signed by the new intermediate',
        40_000,
      );

      // retire: refused while the old root's leaves are valid, then accepted once they expired.
      let refusals = 0;
      await until(
        async () => {
          const r = await cli(['root', 'retire', '--dir', caDir]);
          if (r.code === 3) {
            expect(r.err).toContain('signed under the old root');
            refusals++;
            await new Promise((res) => setTimeout(res, 500));
            return false;
          }
          expect(r.code, r.err).toBe(0);
          return true;
        },
        'retire is accepted',
        60_000,
      );
      expect(refusals).toBeGreaterThan(0);
      refusalsSeen = refusals;
      const oldRoot = new X509Certificate(old.active.root.der).fingerprint256;
      await until(
        () => (['server', 'client'] as const).every((n) => !rootsOf(sds[n].current()!.trustedCaPem).includes(oldRoot)),
        "the old root is gone from both agents' ROOTCA",
        40_000,
      );
      const before = handshakes;
      await until(() => handshakes >= before + 20, 'more handshakes after retire', 40_000);
    } finally {
      running = false;
      await loop;
      await new Promise<void>((resolve) => srv.server.close(() => resolve()));
    }
    console.log(`root rotation e2e: ${handshakes} mTLS handshakes, ${failures.length} failed; retire refused ${refusalsSeen} time(s) before the old leaves expired`);
    expect(failures).toEqual([]);
    expect(handshakes).toBeGreaterThan(50);
    const ca = await loadCa(f.caDir);
    for (const n of ['server', 'client'] as const) {
      const id = sds[n].current()!;
      const chain = certs(id.certificateChainPem).map((c) => c.pem);
      // Chains only to the new root: openssl accepts it with the new root, refuses it with the old one.
      expect(opensslVerify(f.dir, chain[0]!, [...chain.slice(1), ca.active.root.pem]).status).toBe(0);
      expect(opensslVerify(f.dir, chain[0]!, [...chain.slice(1), ca.authorities[0]!.root.pem]).status).not.toBe(0);
      expect(rootsOf(id.trustedCaPem)).toEqual([new X509Certificate(ca.active.root.der).fingerprint256]);
    }
    expect((await cli(['audit', 'verify', '--dir', f.caDir])).code).toBe(0);
  }, 150_000);
});

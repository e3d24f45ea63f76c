// Federation with SPIRE, not with ourselves (docs/federation.md): a local spire-server and spire-agent
// v1.13.3 and a Castellan CA and agent federate both ways over their https_spiffe bundle endpoints; a
// workload with a Castellan X509-SVID and one with a SPIRE X509-SVID (go-spiffe against each agent's
// Workload API) complete mTLS with the federated bundles each got from its own agent, and JWT-SVIDs from
// each side validate on the other. Needs Go (SPIRE is built once into ~/.cache/castellan/spire by
// test/spire/build.sh); skipped with the reason when Go is missing, except with CASTELLAN_REQUIRE_SPIRE=1.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, openLedgerStore, startCaServer } from '../../ca/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import { decodeJwtSvid, parseSpiffeBundle, TrustDomain } from '../../workload-identity/index.js';
import { memoryLog } from '../helpers/ca-server.js';
import { tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';
import { agentFixtureToken } from '../helpers/spire-tokens.js';
import { ensureSpire, freePort, haveGo, haveSpire, Spire } from '../helpers/spire-harness.js';

const required = process.env['CASTELLAN_REQUIRE_SPIRE'] === '1';
const runnable = haveGo || haveSpire();
if (!runnable && required) throw new Error('CASTELLAN_REQUIRE_SPIRE=1 but `go` is not installed and no SPIRE binaries were found (test/spire/build.sh)');
if (!runnable) console.log('skipping the SPIRE federation interop tests: `go` is not installed (needed to build SPIRE and the go-spiffe client)');

const run = promisify(execFile);
const CASTELLAN_TD = 'castellan.test';
const SPIRE_TD = 'spire.test';
const CASTELLAN_WORKLOAD = `spiffe://${CASTELLAN_TD}/ns/shop/sa/cart`;
const SPIRE_WORKLOAD = `spiffe://${SPIRE_TD}/workload`;

describe.skipIf(!runnable)('federation with SPIRE v1.13.3', () => {
  let t: ReturnType<typeof tempDir>;
  let spire: Spire;
  let ca: Awaited<ReturnType<typeof startCaServer>>;
  let agent: Agent;
  let client: string;
  let castellanSocket: string;
  const caLog = memoryLog();

  beforeAll(async () => {
    t = tempDir('castellan-spire-');
    client = path.join(t.dir, 'go-spiffe-client');
    await Promise.all([ensureSpire(), run('go', ['build', '-o', client, '.'], { cwd: path.resolve('test/interop/go-spiffe-client'), timeout: 600_000 })]);
    const caDir = path.join(t.dir, 'ca');
    await initCa({ dir: caDir, trustDomain: TrustDomain.of(CASTELLAN_TD) });
    const castellanEndpointPort = await freePort();
    spire = await Spire.startServer({
      dir: path.join(t.dir, 'spire'),
      trustDomain: SPIRE_TD,
      federatesWith: { trustDomain: CASTELLAN_TD, url: `https://127.0.0.1:${castellanEndpointPort}/`, endpointSpiffeId: `spiffe://${CASTELLAN_TD}/castellan/ca` },
    });
    // Each side starts from the other's roots as PEM: no JWT keys. JWT keys on either side later can only
    // have come from fetching the other's bundle endpoint.
    writeFileSync(path.join(t.dir, 'spire-initial.pem'), await spire.must(['bundle', 'show']));
    ca = await startCaServer({
      dir: caDir,
      devIssuer: true,
      log: caLog.log,
      config: {
        listen: '127.0.0.1:0',
        http: '127.0.0.1:0',
        rotation: { reloadInterval: 200 },
        federation: {
          bundleEndpoint: { listen: `127.0.0.1:${castellanEndpointPort}`, profile: 'https_spiffe', refreshHint: 5_000 },
          trustDomains: [
            {
              trustDomain: SPIRE_TD,
              bundleEndpointUrl: `https://127.0.0.1:${spire.bundlePort}`,
              profile: 'https_spiffe',
              endpointSpiffeId: `spiffe://${SPIRE_TD}/spire/server`,
              initialBundle: path.join(t.dir, 'spire-initial.pem'),
              refreshInterval: 2_000,
            },
          ],
        },
      },
    });
    await spire.must(['bundle', 'set', '-format', 'pem', '-id', `spiffe://${CASTELLAN_TD}`, '-path', path.join(caDir, 'bundle.pem')]);
    await spire.must([
      'entry',
      'create',
      '-parentID',
      `spiffe://${SPIRE_TD}/agent`,
      '-spiffeID',
      SPIRE_WORKLOAD,
      '-selector',
      `unix:uid:${process.getuid!()}`,
      '-federatesWith',
      `spiffe://${CASTELLAN_TD}`,
    ]);
    await spire.startAgent();
    const tokenFile = path.join(t.dir, 'token');
    writeFileSync(tokenFile, await agentFixtureToken(caDir, 'shop', 'cart'));
    castellanSocket = path.join(t.dir, 'castellan.sock');
    agent = await startAgent({
      caAddress: `127.0.0.1:${ca.server.grpcPort}`,
      caBundlePem: readFileSync(path.join(caDir, 'bundle.pem'), 'utf8'),
      tokenFile,
      socketPath: castellanSocket,
      log: memoryLog().log,
    });
  }, 3_600_000);
  afterAll(async () => {
    await agent?.close();
    await ca?.server.shutdown(100);
    await spire?.stop();
    t?.cleanup();
  });

  const go = async (socket: string, args: string[]) => {
    try {
      return JSON.parse((await run(client, ['-socket', socket, ...args], { encoding: 'utf8', timeout: 30_000 })).stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    } catch (err) {
      const out = (err as { stdout?: string }).stdout;
      if (out) return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
      throw err;
    }
  };

  it("ok/SPIRE fetched Castellan's https_spiffe bundle endpoint: its copy of castellan.test gained Castellan's JWT key", async () => {
    const kid = ca.server.trustBundle.current().jwtAuthorities[0]!.keyId;
    let text = '';
    // SPIRE's first poll ran before Castellan's endpoint listened and before its copy of the bundle was set,
    // so its next poll is a minute away: ask it to refresh now (SPIRE's own `federation refresh`).
    await spire.waitFor(async () => {
      await spire.cli(['federation', 'refresh', '-id', `spiffe://${CASTELLAN_TD}`]);
      text = (await spire.cli(['bundle', 'list', '-format', 'spiffe', '-id', `spiffe://${CASTELLAN_TD}`])).stdout;
      return text.includes(kid);
    }, 'SPIRE to fetch castellan.test with its JWT key');
    const b = parseSpiffeBundle(TrustDomain.of(CASTELLAN_TD), text.slice(text.indexOf('{')));
    expect(b.jwtAuthorities.map((k) => k.keyId)).toContain(kid);
    expect(b.x509Authorities[0]!.equals(ca.server.trustBundle.current().roots[0]!.der)).toBe(true);
  });

  it("ok/Castellan fetched SPIRE's https_spiffe bundle endpoint: spire.test gained SPIRE's JWT keys; stored and ledgered", async () => {
    await until(
      () => (ca.server.trustBundle.current().federated.find((f) => f.trustDomain.name === SPIRE_TD)?.jwtAuthorities.length ?? 0) > 0,
      'spire.test JWT keys at Castellan',
      30_000,
    );
    const spireDoc = await spire.must(['bundle', 'show', '-format', 'spiffe']);
    const fromSpire = parseSpiffeBundle(TrustDomain.of(SPIRE_TD), spireDoc);
    const held = ca.server.trustBundle.current().federated.find((f) => f.trustDomain.name === SPIRE_TD)!;
    expect(held.jwtAuthorities.map((k) => k.keyId).sort()).toEqual(fromSpire.jwtAuthorities.map((k) => k.keyId).sort());
    const store = await openLedgerStore({ dir: path.join(t.dir, 'ca'), readOnly: true });
    try {
      const events = (await store.query({})).filter((r) => r.event === 'federated-bundle-updated').map((r) => JSON.parse(r.details!) as { source: string });
      expect(events.map((e) => e.source)).toContain('endpoint');
    } finally {
      await store.close();
    }
  });

  /** One mTLS connection: a go-spiffe server on `serverSocket`'s SVID, a go-spiffe client on `clientSocket`'s. */
  async function mtls(serverSocket: string, serverId: string, clientSocket: string, clientId: string) {
    const server = spawn(client, ['-socket', serverSocket, '-mode', 'mtls-server', '-peer', clientId]);
    const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
    const first = JSON.parse(String((await lines.next()).value)) as { code: string; listen: string };
    expect(first.code).toBe('LISTENING');
    const c = await go(clientSocket, ['-mode', 'mtls-client', '-connect', first.listen, '-peer', serverId]);
    const s = JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
    await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)));
    return { client: c, server: s };
  }

  it('ok/mTLS: a SPIRE workload dials a Castellan workload; each verifies the other with the federated bundle from its own agent', async () => {
    // The federated bundles reach each agent asynchronously: retry until both have them.
    let r: Awaited<ReturnType<typeof mtls>> | undefined;
    await until(
      async () => {
        r = await mtls(castellanSocket, CASTELLAN_WORKLOAD, spire.agentSocket, SPIRE_WORKLOAD);
        return r.client['code'] === 'OK';
      },
      'mTLS SPIRE → Castellan',
      60_000,
    );
    expect(r!.client).toMatchObject({ code: 'OK', peer: CASTELLAN_WORKLOAD, reply: `hello ${SPIRE_WORKLOAD}` });
    expect(r!.server).toMatchObject({ code: 'OK', peer: SPIRE_WORKLOAD, reply: 'hi from client' });
  }, 90_000);

  it('ok/mTLS: a Castellan workload dials a SPIRE workload', async () => {
    let r: Awaited<ReturnType<typeof mtls>> | undefined;
    await until(
      async () => {
        r = await mtls(spire.agentSocket, SPIRE_WORKLOAD, castellanSocket, CASTELLAN_WORKLOAD);
        return r.client['code'] === 'OK';
      },
      'mTLS Castellan → SPIRE',
      60_000,
    );
    expect(r!.client).toMatchObject({ code: 'OK', peer: SPIRE_WORKLOAD });
    expect(r!.server).toMatchObject({ code: 'OK', peer: CASTELLAN_WORKLOAD });
  }, 90_000);

  it("ok/a JWT-SVID from SPIRE validates at Castellan's agent, one from Castellan at SPIRE's agent; the wrong audience fails on both", async () => {
    const fromSpire = await go(spire.agentSocket, ['-mode', 'jwt-fetch', '-audience', CASTELLAN_WORKLOAD]);
    expect(fromSpire).toMatchObject({ code: 'OK', spiffeId: SPIRE_WORKLOAD });
    expect(decodeJwtSvid(String(fromSpire['token'])).spiffeId.toString()).toBe(SPIRE_WORKLOAD);
    expect(await go(castellanSocket, ['-mode', 'jwt-validate', '-audience', CASTELLAN_WORKLOAD, '-token', String(fromSpire['token'])])).toMatchObject({
      code: 'OK',
      spiffeId: SPIRE_WORKLOAD,
    });
    expect((await go(castellanSocket, ['-mode', 'jwt-validate', '-audience', 'someone-else', '-token', String(fromSpire['token'])]))['code']).toBe('InvalidArgument');

    const fromCastellan = await go(castellanSocket, ['-mode', 'jwt-fetch', '-audience', SPIRE_WORKLOAD]);
    expect(fromCastellan).toMatchObject({ code: 'OK', spiffeId: CASTELLAN_WORKLOAD });
    let atSpire: Record<string, unknown> = {};
    await until(
      async () => (atSpire = await go(spire.agentSocket, ['-mode', 'jwt-validate', '-audience', SPIRE_WORKLOAD, '-token', String(fromCastellan['token'])]))['code'] === 'OK',
      "SPIRE agent validating Castellan's JWT-SVID",
      30_000,
    );
    expect(atSpire).toMatchObject({ code: 'OK', spiffeId: CASTELLAN_WORKLOAD });
    expect((await go(spire.agentSocket, ['-mode', 'jwt-validate', '-audience', 'someone-else', '-token', String(fromCastellan['token'])]))['code']).toBe('InvalidArgument');
  }, 90_000);
});

import path from 'node:path';
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CaServer, initCa, loadCa, loadDevTokenIssuer, resolveCaConfig } from '../../ca/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import { agentProtos, SDS_SERVICE, SECRET_TYPE_URL } from '../../sds/index.js';
import { JwksAuthenticator, mintServiceAccountToken, TrustDomain, type Authenticator } from '../../workload-identity/index.js';
import { memoryLog } from '../helpers/ca-server.js';
import { EnvoySdsClient } from '../helpers/envoy-sds-client.js';
import { tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';
import { FAST_CHANNEL } from '../helpers/agent-fixture.js';

// Anyone who can open the node agent's socket can present tokens, and each new token costs the agent a
// CA call. A flood of fresh forged tokens on many connections must not deny a real pod's new token its
// identity. The CA here is real, but its authentication of forged tokens is held
// until the test releases it, one at a time: a CA that answers slowly, without depending on speed.

const td = TrustDomain.of('cluster.local');
let t: ReturnType<typeof tempDir>;
let ca: CaServer;
let agent: Agent | undefined;
let held: (() => void)[];
let released: number;
/** `released` when the CA first saw a real token (the pod's check got its turn). */
let releasedAtRealCheck: number | undefined;
let mintReal: (sa: string) => Promise<string>;

/** A JWT-shaped token nobody issued, fresh each time (its `jti` differs): refused by the CA. */
function forged(): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'ES256', kid: 'forged' })}.${part({ iss: 'forged', sub: 'system:serviceaccount:shop:evil', aud: ['castellan'], exp: Math.floor(Date.now() / 1000) + 600, jti: Math.random().toString(36) })}.${part({ sig: 1 })}`;
}

beforeEach(async () => {
  t = tempDir('castellan-flood-');
  const dir = path.join(t.dir, 'ca');
  await initCa({ dir, trustDomain: td });
  const dev = await loadDevTokenIssuer(dir);
  const real = new JwksAuthenticator({ trustDomain: td, issuer: dev.issuer, audiences: ['castellan'], jwks: dev.jwks });
  held = [];
  released = 0;
  releasedAtRealCheck = undefined;
  const slowForForged: Authenticator = {
    kind: 'jwks',
    async authenticate(c) {
      if (c.token?.includes(Buffer.from('{"alg":"ES256","kid":"forged"}').toString('base64url'))) await new Promise<void>((resolve) => held.push(resolve));
      else releasedAtRealCheck ??= released;
      return real.authenticate(c);
    },
  };
  ca = await CaServer.start({
    ca: await loadCa(dir),
    config: resolveCaConfig({ listen: '127.0.0.1:0', http: '127.0.0.1:0', limits: { perPeer: { ratePerSecond: 100_000, burst: 100_000 } } }),
    tokenAuthenticator: slowForForged,
    authorize: () => undefined,
    log: memoryLog().log,
  });
  mintReal = (sa) => mintServiceAccountToken(dev.privateKey, dev.kid, { issuer: dev.issuer, audiences: ['castellan'], namespace: 'shop', serviceAccount: sa, ttlSeconds: 600 });
});
afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await ca.shutdown(100);
  t.cleanup();
});

/** An attacker's connection of its own (grpc-js would otherwise share one between clients). */
function attackerClient(socketPath: string): Client & { FetchSecrets: Function } {
  const Sds = makeGenericClientConstructor(agentProtos().sds[SDS_SERVICE] as ServiceDefinition, 'SDS');
  return new Sds(`unix:${socketPath}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as Client & { FetchSecrets: Function };
}

function fetchWith(c: Client & { FetchSecrets: Function }, token: string): Promise<number> {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => c.FetchSecrets({ typeUrl: SECRET_TYPE_URL, resourceNames: ['default'] }, md, (err: ServiceError | null) => resolve(err ? err.code : status.OK)));
}

describe('node mode under a flood of forged tokens', () => {
  it('fail/many connections sending fresh forged tokens do not deny a real pod its identity: its check waits its turn', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    agent = await startAgent({
      caAddress: `127.0.0.1:${ca.grpcPort}`,
      caBundlePem: (await loadCa(path.join(t.dir, 'ca'))).bundle.map((c) => c.pem).join(''),
      mode: 'node',
      socketPath,
      log: memoryLog().log,
      caChannelOptions: FAST_CHANNEL,
      nodeProofLimits: { ratePerSecond: 100_000, burst: 100_000 },
    });
    const CONNECTIONS = 24;
    const PER_CONNECTION = 4; // concurrent calls per attacker connection: 96 in all, as in the probe
    let stop = false;
    const attackerCodes = new Map<number, number>();
    const attackers = Array.from({ length: CONNECTIONS }, () => attackerClient(socketPath));
    const loops = attackers.flatMap((c) =>
      Array.from({ length: PER_CONNECTION }, async () => {
        while (!stop) {
          const code = await fetchWith(c, forged());
          attackerCodes.set(code, (attackerCodes.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 10));
        }
      }),
    );
    let drained = false;
    const releaser = (async () => {
      // Waits until the agent's checks are saturated (some attacker call was turned away), then lets
      // the CA answer one held forged check at a time (all of them once the attack stopped).
      await until(() => stop || (attackerCodes.get(status.UNAVAILABLE) ?? 0) > 0, 'the flood to saturate the agent', 20_000);
      while (!drained) {
        if (stop) for (const r of held.splice(0)) r();
        const next = held.shift();
        if (next) {
          next();
          released++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const pod = new EnvoySdsClient(socketPath, await mintReal('cart'));
    try {
      await until(() => (attackerCodes.get(status.UNAVAILABLE) ?? 0) > 0, 'the flood to saturate the agent', 20_000);
      // The pod's connection first (a Fetch with an unknown type URL is refused before any
      // token check), so what is counted below is the wait of its check, not the connection set-up.
      expect((await pod.fetch(['default'], 'wrong-type')).status.code).toBe(status.INVALID_ARGUMENT);
      const before = released;
      const r = await pod.fetch(['default']);
      expect(r.status.details).toBe('');
      expect(r.status.code).toBe(status.OK);
      expect(r.res!.resources[0]!.name).toBe('default');
      // Its turn came within about one round of the flooding connections (4 checks run at once).
      const waited = releasedAtRealCheck! - before;
      expect(waited).toBeLessThanOrEqual(CONNECTIONS + 8);
      // The flood itself was turned away at its connections' bound (UNAVAILABLE) or refused by the CA.
      expect([...attackerCodes.keys()].sort()).toEqual([status.UNAVAILABLE, status.UNAUTHENTICATED].sort());
    } finally {
      stop = true;
      await Promise.all(loops);
      drained = true;
      await releaser;
      for (const c of attackers) c.close();
      pod.close();
    }
  }, 60_000);
});

// go-spiffe v2's workloadapi (a JWT-SVID client nobody here wrote) against a real agent and CA:
// FetchJWTSVID, FetchJWTBundles, ValidateJWTSVID, and jwtsvid.ParseAndValidate with the fetched bundles.
// Runs when `go` is installed; skipped with the reason otherwise.
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../sds/agent.js';
import { decodeJwtSvid } from '../../workload-identity/index.js';
import { until } from '../helpers/until.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';

const haveGo = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;
if (!haveGo) console.log('skipping the go-spiffe JWT-SVID interop tests: `go` is not installed');
const run = promisify(execFile);

describe.skipIf(!haveGo)('go-spiffe workloadapi JWT-SVID profile against the agent', () => {
  let f: Awaited<ReturnType<typeof agentFixture>>;
  let agent: Agent;
  let bin: string;
  let socket: string;

  beforeAll(async () => {
    f = await agentFixture();
    bin = path.join(f.dir, 'go-spiffe-client');
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    socket = path.join(f.dir, 'agent.sock');
    [agent] = await Promise.all([
      startAgent({ caAddress: f.address, caBundlePem: f.bundlePem, tokenFile, socketPath: socket, log: f.log.log, caChannelOptions: FAST_CHANNEL }),
      run('go', ['build', '-o', bin, '.'], { cwd: path.resolve('test/interop/go-spiffe-client'), timeout: 280_000 }),
    ]);
    await until(() => (agent.trustBundle()?.jwtAuthorities?.length ?? 0) > 0, "the agent's JWT keys");
  }, 300_000);
  afterAll(async () => {
    await agent?.close();
    await f?.cleanup();
  });

  const call = async (args: string[]) => {
    try {
      return JSON.parse((await run(bin, ['-socket', socket, ...args], { encoding: 'utf8', timeout: 30_000 })).stdout) as Record<string, unknown>;
    } catch (err) {
      const out = (err as { stdout?: string }).stdout;
      if (out) return JSON.parse(out) as Record<string, unknown>;
      throw err;
    }
  };

  it('ok/FetchJWTSVID + FetchJWTBundles + ValidateJWTSVID + jwtsvid.ParseAndValidate agree', async () => {
    const r = await call(['-mode', 'jwt', '-audience', 'spiffe://cluster.local/ns/shop/sa/api', '-extra-audience', 'billing']);
    expect(r).toMatchObject({
      code: 'OK',
      spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart',
      audience: ['spiffe://cluster.local/ns/shop/sa/api', 'billing'],
      validated: 'spiffe://cluster.local/ns/shop/sa/cart',
      localCheck: 'spiffe://cluster.local/ns/shop/sa/cart',
    });
    const kid = decodeJwtSvid(String(r['token'])).header.kid;
    expect((r['bundles'] as Record<string, string[]>)['spiffe://cluster.local']).toContain(kid);
  });

  it('ok+fail/go-spiffe: a token for another audience and a foreign subject are refused by ValidateJWTSVID (InvalidArgument)', async () => {
    const fetched = await call(['-mode', 'jwt-fetch', '-audience', 'a']);
    expect(fetched['code']).toBe('OK');
    expect(await call(['-mode', 'jwt-validate', '-audience', 'a', '-token', String(fetched['token'])])).toMatchObject({
      code: 'OK',
      spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart',
    });
    expect((await call(['-mode', 'jwt-validate', '-audience', 'b', '-token', String(fetched['token'])]))['code']).toBe('InvalidArgument');
    const other = await call(['-mode', 'jwt-fetch', '-audience', 'a', '-subject', 'spiffe://cluster.local/ns/kube-system/sa/admin']);
    expect(other['code']).toBe('PermissionDenied');
  });
});

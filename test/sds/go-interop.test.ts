// Clients nobody here wrote: go-spiffe v2's workloadapi (test/interop/go-spiffe-client) and
// go-control-plane's Envoy v3 types with grpc-go (test/interop/sds-client). Run when `go` is installed;
// skipped with the reason otherwise. Each program is built once per run into a temp dir.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/test-ca.js';
import { testWorkloadSocket } from '../helpers/workload-socket.js';

const haveGo = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;
if (!haveGo) console.log('skipping the go-spiffe and go-control-plane interop tests: `go` is not installed');

const run = promisify(execFile);
const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');

describe.skipIf(!haveGo)('Workload API and SDS interop with Go clients', () => {
  let t: ReturnType<typeof tempDir>;
  let env: Awaited<ReturnType<typeof testWorkloadSocket>>;
  let nodeEnv: Awaited<ReturnType<typeof testWorkloadSocket>>;
  const bin = { spiffe: '', sds: '' };

  beforeAll(async () => {
    t = tempDir();
    bin.spiffe = path.join(t.dir, 'go-spiffe-client');
    bin.sds = path.join(t.dir, 'sds-client');
    const build = (out: string, dir: string) => run('go', ['build', '-o', out, '.'], { cwd: path.resolve(dir), timeout: 280_000 });
    [env, nodeEnv] = await Promise.all([
      testWorkloadSocket(),
      testWorkloadSocket({ mode: 'node', tokens: { 'pod-b-token': '/ns/b/sa/b' } }),
      build(bin.spiffe, 'test/interop/go-spiffe-client'),
      build(bin.sds, 'test/interop/sds-client'),
    ]);
  }, 300_000);
  afterAll(async () => {
    await env?.cleanup();
    await nodeEnv?.cleanup();
    t?.cleanup();
  });

  // Asynchronous: the agent runs in this process, so a blocking spawn would starve it.
  const call = async (file: string, args: string[]) => {
    try {
      const r = await run(file, args, { encoding: 'utf8', timeout: 30_000 });
      return JSON.parse(r.stdout) as Record<string, unknown>;
    } catch (err) {
      const out = (err as { stdout?: string }).stdout;
      if (out) return JSON.parse(out) as Record<string, unknown>;
      throw err;
    }
  };

  it('ok/go-spiffe FetchX509Context + FetchX509Bundles; x509svid.Verify accepts the SVID', async () => {
    const r = await call(bin.spiffe, ['-socket', env.socket.socketPath]);
    expect(r).toMatchObject({
      code: 'OK',
      spiffeId: 'spiffe://cluster.local/ns/default/sa/web',
      verifiedId: 'spiffe://cluster.local/ns/default/sa/web',
      chainLen: 2,
      domains: ['spiffe://cluster.local'],
      roots: 1,
      keyMatches: true,
    });
    expect(norm(String(r['serial']))).toBe(norm(env.provider.snapshot().svid.serialHex));
  });

  it('ok/go-spiffe WatchX509Context sees a rotation pushed by the agent', async () => {
    const child = spawn(bin.spiffe, ['-socket', env.socket.socketPath, '-updates', '2']);
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
    expect(first['code']).toBe('OK');
    const rotated = await env.provider.rotate();
    const second = JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
    expect(second).toMatchObject({ code: 'OK', verifiedId: 'spiffe://cluster.local/ns/default/sa/web' });
    expect(norm(String(second['serial']))).toBe(norm(rotated.serialHex));
    expect(second['serial']).not.toBe(first['serial']);
    await new Promise((r) => child.once('exit', r));
  });

  it('ok/go-control-plane SDS: default + ROOTCA parse and verify, ACK accepted, Delta answers', async () => {
    const r = await call(bin.sds, ['-socket', env.socket.socketPath]);
    expect(r).toMatchObject({
      code: 'OK',
      names: ['default', 'ROOTCA'],
      verified: true,
      uriSan: 'spiffe://cluster.local/ns/default/sa/web',
      afterAck: ['default', 'ROOTCA', 'spiffe://cluster.local'],
      deltaNames: ['default'],
    });
    expect(String(r['deltaVersion'])).toMatch(/^[0-9a-f]{16}$/);
    expect(env.lines.some((l) => l.includes('"node":"go-control-plane-client"'))).toBe(true);
  });

  it('ok+fail/node mode: grpc-go with the pod token gets its identity; without a token Unauthenticated', async () => {
    const ok = await call(bin.sds, ['-socket', nodeEnv.socket.socketPath, '-token', 'pod-b-token']);
    expect(ok).toMatchObject({ code: 'OK', uriSan: 'spiffe://cluster.local/ns/b/sa/b', verified: true });
    const denied = await call(bin.sds, ['-socket', nodeEnv.socket.socketPath]);
    expect(denied['code']).toBe('Unauthenticated');
  });
});

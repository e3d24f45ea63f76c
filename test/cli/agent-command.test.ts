import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SdsClient } from '../../sds/index.js';
import { agentConfigFrom } from '../../cli/agent.js';
import { cli } from '../helpers/cli.js';
import { agentFixture } from '../helpers/agent-fixture.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  await f.cleanup();
});

describe('castellan agent: usage', () => {
  const usage: [string, string[], RegExp][] = [
    [
      'fail/no flags: every missing field listed',
      [],
      /3 problems: caAddr \(--ca-addr\): required; caBundle \(--ca-bundle\): required; tokenFile \(--token-file\): required in sidecar mode/,
    ],
    [
      'fail/bad --mode',
      ['--ca-addr', 'ca:1', '--ca-bundle', 'b.pem', '--token-file', 't', '--mode', 'cluster'],
      /mode \(--mode\): Invalid option: expected one of "sidecar"\|"node"/,
    ],
    ['fail/bad --ttl', ['--ca-addr', 'ca:1', '--ca-bundle', 'b.pem', '--token-file', 't', '--ttl', '25x'], /ttl \(--ttl\): "25x" is not a duration/],
    ['fail/--ttl below 1m', ['--ca-addr', 'ca:1', '--ca-bundle', 'b.pem', '--token-file', 't', '--ttl', '30s'], /ttl \(--ttl\): at least 1m/],
    [
      'fail/bad --key-type and --ca-addr together',
      ['--ca-addr', 'nope', '--ca-bundle', 'b.pem', '--token-file', 't', '--key-type', 'dsa'],
      /2 problems: .*caAddr.*host:port.*keyType/,
    ],
    ['fail/unknown flag', ['--frobnicate'], /unknown option '--frobnicate'/],
  ];
  for (const [name, args, message] of usage) {
    it(`${name} is a usage error (exit 2, one line on stderr)`, async () => {
      const r = await cli(['agent', ...args], { cwd: f.dir });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
    });
  }

  it('ok/node mode needs no token file; a bad config file is a failure (exit 1)', async () => {
    writeFileSync(path.join(f.dir, 'agent.yaml'), 'caAddr: 127.0.0.1:1\nfrobnicate: true\n');
    const r = await cli(['agent', '--config', 'agent.yaml', '--mode', 'node', '--ca-bundle', 'b.pem'], { cwd: f.dir });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/config .*agent.yaml: 1 problem/);
  });

  it('ok/precedence: flags, then CASTELLAN_* variables, then the file', async () => {
    writeFileSync(path.join(f.dir, 'agent.yaml'), 'caAddr: file:1\ncaBundle: file.pem\ntokenFile: file.token\nttl: 3h\nmode: sidecar\n');
    const io = {
      out: () => undefined,
      err: () => undefined,
      cwd: f.dir,
      now: () => new Date(),
      env: { CASTELLAN_CA_ADDR: 'env:2', CASTELLAN_TTL: '2h', CASTELLAN_CONFIG: 'agent.yaml' },
    };
    const c = await agentConfigFrom({ ttl: '1h' }, io);
    expect(c.caAddr).toBe('env:2');
    expect(c.ttlMs).toBe(3_600_000);
    expect(c.caBundle).toBe(path.join(f.dir, 'file.pem'));
    expect(c.tokenFile).toBe(path.join(f.dir, 'file.token'));
  });

  it('ok/--help describes every flag and the shutdown behaviour', async () => {
    const r = await cli(['agent', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--ca-addr', '--ca-bundle', '--token-file', '--socket', '--mode', '--key-type', '--ttl', '--config', '--http']) expect(r.out).toContain(flag);
    expect(r.out).toMatch(/SIGTERM/);
  });
});

describe('castellan agent: a real run', () => {
  it('ok/serves SDS on the socket from a config file, answers /readyz, and exits 0 on SIGTERM', async () => {
    const token = path.join(f.dir, 'token');
    await f.writeToken(token, 'shop', 'cart');
    writeFileSync(path.join(f.dir, 'bundle.pem'), f.bundlePem);
    const socketPath = path.join(f.dir, 'sds.sock');
    writeFileSync(path.join(f.dir, 'agent.yaml'), `caAddr: ${f.address}\ncaBundle: ${path.join(f.dir, 'bundle.pem')}\nttl: 1h\nretryInitial: 100ms\n`);
    // The CLI from its sources (test/helpers/cli-process.ts), tsx's loader named by path: the cwd is a temp dir.
    const entry = path.resolve('test/helpers/cli-process.ts');
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(path.resolve('node_modules/tsx/dist/loader.mjs')).href,
        entry,
        'agent',
        '--config',
        'agent.yaml',
        '--token-file',
        'token',
        '--socket',
        socketPath,
        '--http',
        '127.0.0.1:0',
      ],
      {
        cwd: f.dir,
        env: { ...process.env, CASTELLAN_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 400 && !/serving Envoy SDS/.test(err) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
      expect(err).toMatch(/castellan agent \(sidecar mode\) serving Envoy SDS and the SPIFFE Workload API on .*sds.sock, HTTP on port (\d+)/);
      const httpPort = /HTTP on port (\d+)/.exec(err)![1];
      const sds = new SdsClient({ socketPath });
      const id = await sds.ready();
      sds.close();
      expect(id.certificateChainPem).toContain('BEGIN CERTIFICATE');
      expect(id.privateKeyPem).toContain('BEGIN PRIVATE KEY');
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      expect(ready.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metrics).toMatch(/castellan_agent_certificate_expiry_seconds\{spiffe_id="spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart"\}/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(socketPath)).toBe(false);
      // JSON log lines on stdout, no token in them.
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.some((l) => l['msg'] === 'certificate issued')).toBe(true);
      expect(lines.some((l) => l['msg'] === 'castellan agent stopped')).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

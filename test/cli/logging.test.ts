import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCaServer } from '../../ca/index.js';
import { agentConfigFrom, runAgent } from '../../cli/agent.js';
import type { CliIo } from '../../cli/io.js';
import { createLogger } from '../../cli/logger.js';
import { textLogLine } from '../../cli/log-text.js';
import { cli } from '../helpers/cli.js';
import { parseStrictJson } from '../helpers/strict-json.js';
import { until } from '../helpers/until.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';
import { agentFixture } from '../helpers/agent-fixture.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  await f.cleanup();
});

/** Every line parsed strictly (a key twice in one object is an error), as a log shipper would. */
function strictLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split('\n')
    .map((l) => parseStrictJson(l) as Record<string, unknown>);
}

function memoryIo(env: Record<string, string>): CliIo & { text: () => string } {
  let out = '';
  return { out: (t) => void (out += t), err: () => undefined, cwd: f.dir, env, now: () => new Date(), text: () => out };
}

describe('strict JSON parser (test helper)', () => {
  it('fail/a key twice in one object is refused; ok/the same key in two objects is not', () => {
    expect(() => parseStrictJson('{"component":"a","msg":"x","component":"a"}')).toThrow(/duplicate key "component"/);
    expect(parseStrictJson('{"a":{"k":1},"b":{"k":[1,{"k":2}]},"c":"\\"}"}')).toEqual({ a: { k: 1 }, b: { k: [1, { k: 2 }] }, c: '"}' });
  });
});

describe('log lines: each key once (strict JSON parsers reject duplicates)', () => {
  it('ok/castellan agent (a real process): every stdout line parses strictly and names its component once', async () => {
    const token = path.join(f.dir, 'token');
    await f.writeToken(token, 'shop', 'cart');
    writeFileSync(path.join(f.dir, 'bundle.pem'), f.bundlePem);
    // The CLI from its sources (test/helpers/cli-process.ts), tsx's loader named by path: the cwd is a temp dir.
    const entry = path.resolve('test/helpers/cli-process.ts');
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(path.resolve('node_modules/tsx/dist/loader.mjs')).href,
        entry,
        'agent',
        '--ca-addr',
        f.address,
        '--ca-bundle',
        'bundle.pem',
        '--token-file',
        'token',
        '--socket',
        path.join(f.dir, 'sds.sock'),
      ],
      { cwd: f.dir, env: { ...process.env, CASTELLAN_LOG_LEVEL: 'info', CASTELLAN_LOG_FORMAT: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => out.includes('certificate issued') || child.exitCode !== null, 'the agent logs its first certificate', 30_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const lines = strictLines(out);
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const l of lines) expect(l['component']).toBe('castellan-agent');
      expect(lines.map((l) => l['msg'])).toEqual(expect.arrayContaining(['castellan agent started', 'certificate issued', 'castellan agent stopped']));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it("ok/castellan ca serve logger: the ConfigMap publisher's lines parse strictly too", async () => {
    const api = await KubernetesApiStandIn.start();
    try {
      api.addNamespace('shop');
      const kubeconfig = path.join(f.dir, 'kubeconfig');
      api.writeKubeconfig(kubeconfig);
      await f.stopCa();
      const io = memoryIo({});
      const log = createLogger(io, 'castellan-ca', (s) => io.out(s));
      const { server } = await startCaServer({
        dir: f.caDir,
        config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', distribution: { configMaps: { enabled: true, kubeconfig } } },
        devIssuer: true,
        log,
      });
      try {
        await until(() => io.text().includes('bundle-configmaps: pass done'), 'the ConfigMap publisher finishes a pass', 20_000);
      } finally {
        await server.shutdown(100);
      }
      const lines = strictLines(io.text());
      for (const l of lines) expect(l['component']).toBe('castellan-ca');
      expect(lines.find((l) => l['msg'] === 'bundle-configmaps: pass done')).toMatchObject({ component: 'castellan-ca', subsystem: 'bundle-configmaps' });
    } finally {
      await api.close();
    }
  }, 60_000);
});

describe('CASTELLAN_LOG_LEVEL and CASTELLAN_LOG_FORMAT', () => {
  const bad: [string, string[], Record<string, string>, RegExp][] = [
    [
      'fail/agent, unknown level',
      ['agent', '--ca-addr', '127.0.0.1:1', '--ca-bundle', 'b.pem', '--token-file', 't'],
      { CASTELLAN_LOG_LEVEL: 'verbose' },
      /^castellan: CASTELLAN_LOG_LEVEL: "verbose" is not accepted; use one of fatal, error, warn, info, debug, trace, silent \(default info\)\n$/,
    ],
    [
      'fail/agent, numeric level',
      ['agent', '--ca-addr', '127.0.0.1:1', '--ca-bundle', 'b.pem', '--token-file', 't'],
      { CASTELLAN_LOG_LEVEL: '30' },
      /CASTELLAN_LOG_LEVEL: "30" is not accepted; use one of fatal, error/,
    ],
    [
      'fail/agent, unknown format',
      ['agent', '--ca-addr', '127.0.0.1:1', '--ca-bundle', 'b.pem', '--token-file', 't'],
      { CASTELLAN_LOG_FORMAT: 'pretty' },
      /^castellan: CASTELLAN_LOG_FORMAT: "pretty" is not accepted; use one of json, text \(default json\)\n$/,
    ],
    [
      'fail/ca serve, unknown level',
      ['ca', 'serve', '--dir', 'ca'],
      { CASTELLAN_LOG_LEVEL: 'loud' },
      /^castellan: CASTELLAN_LOG_LEVEL: "loud" is not accepted; use one of fatal, error, warn, info, debug, trace, silent/,
    ],
  ];
  for (const [name, argv, env, want] of bad) {
    it(`${name}: exit 2 with one line naming the variable and the accepted values, nothing started`, async () => {
      const r = await cli(argv, { cwd: f.dir, env });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(want);
      expect(r.out).toBe('');
    });
  }

  it('ok/level names are case-insensitive and an empty value is the default', async () => {
    expect(createLogger(memoryIo({ CASTELLAN_LOG_LEVEL: 'DEBUG' }), 'x', () => undefined).level).toBe('debug');
    expect(createLogger(memoryIo({ CASTELLAN_LOG_LEVEL: '' }), 'x', () => undefined).level).toBe('info');
  });

  it('ok/text format: a real agent run logs readable lines (time, level, component, message, fields)', async () => {
    const token = path.join(f.dir, 'token');
    await f.writeToken(token, 'shop', 'cart');
    writeFileSync(path.join(f.dir, 'bundle.pem'), f.bundlePem);
    const io = memoryIo({ CASTELLAN_LOG_FORMAT: 'text' });
    const config = await agentConfigFrom({ caAddr: f.address, caBundle: 'bundle.pem', tokenFile: 'token', socket: path.join(f.dir, 'sds.sock') }, io);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const running = runAgent(config, io, createLogger(io, 'castellan-agent'), stopped);
    await until(() => io.text().includes('certificate issued'), 'the agent logs its first certificate', 30_000);
    stop();
    await running;
    const lines = io.text().trim().split('\n');
    const issued = lines.find((l) => l.includes('certificate issued'))!;
    expect(issued).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\[castellan-agent\] certificate issued .*spiffeId=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/);
    for (const l of lines) expect(() => JSON.parse(l)).toThrow();
    expect(lines.some((l) => /INFO {2}\[castellan-agent\] castellan agent stopped$/.test(l))).toBe(true);
  }, 60_000);

  it("ok/text format: strings with spaces are quoted, objects are JSON, an error's stack is indented below", () => {
    const err = { type: 'Error', message: 'boom here', stack: 'Error: boom here\n    at x (y.js:1:2)' };
    const line = textLogLine(`${JSON.stringify({ level: 50, time: 0, component: 'castellan-ca', msg: 'failed', err, reason: 'two words', n: 3, o: { a: 1 } })}\n`);
    expect(line).toBe('1970-01-01T00:00:00.000Z ERROR [castellan-ca] failed err="boom here" reason="two words" n=3 o={"a":1}\n    Error: boom here\n        at x (y.js:1:2)\n');
    expect(textLogLine('not json\n')).toBe('not json\n');
  });
});

// bin/castellan.cjs, the `castellan` command (docs/architecture.md §4): a CA server gets libuv's thread
// pool sized to the cores (one per core but the event loop's, 1 to 4) before Node first uses it, unless
// UV_THREADPOOL_SIZE says otherwise; the CLI behind it is the same for every command.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initCa } from '../../ca/index.js';
import { TrustDomain } from '../../workload-identity/index.js';
import { tempDir } from '../helpers/test-ca.js';

const LAUNCHER = path.resolve('bin/castellan.cjs');

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
});
afterEach(() => t.cleanup());

/** Starts `castellan ca serve` through the launcher and returns its "serving" log line, then stops it (SIGTERM, exit 0). */
async function servingLine(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [LAUNCHER, 'ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'], {
    env: { ...env, CASTELLAN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    return await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "castellan CA serving" line in 30 s: ${out.slice(-500)} ${err.slice(-500)}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"castellan CA serving"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as Record<string, unknown>);
        }
      });
      void exited.then((code) => reject(new Error(`ca serve exited ${code}: ${err.slice(-500)}`)));
    });
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

const withoutPoolSize = () => {
  const env = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;
  return env;
};

describe('bin/castellan.cjs', () => {
  it("ok/ca serve gets one libuv pool thread per core but the event loop's, 1 to 4", async () => {
    const line = await servingLine(withoutPoolSize());
    expect(line.threadPool).toBe(Math.min(4, Math.max(1, availableParallelism() - 1)));
  });

  it('ok/a UV_THREADPOOL_SIZE in the environment is kept', async () => {
    const line = await servingLine({ ...withoutPoolSize(), UV_THREADPOOL_SIZE: '3' });
    expect(line.threadPool).toBe(3);
  });

  it('ok/other commands run the same CLI: exit codes and output pass through', () => {
    const version = spawnSync(process.execPath, [LAUNCHER, 'version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/castellan \S+/);
    const bad = spawnSync(process.execPath, [LAUNCHER, 'no-such-command'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('no-such-command');
  });
});

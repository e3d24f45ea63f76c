// bin/castellan.cjs, the `castellan` command (docs/architecture.md §4): a CA server gets libuv's thread
// pool sized to the cores (one per core but the event loop's, 2 to 4) before Node first uses it, unless
// UV_THREADPOOL_SIZE says otherwise; the CLI behind it is the same for every command.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync, writeFileSync } from 'node:fs';
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

/**
 * Starts `castellan ca serve` through the launcher (no signing workers: only libuv's pool varies),
 * returns its "serving" log line and its thread count once serving, then stops it (SIGTERM, exit 0).
 */
async function serving(env: NodeJS.ProcessEnv): Promise<{ line: Record<string, unknown>; threads: number }> {
  const config = path.join(t.dir, 'ca.yaml');
  writeFileSync(config, 'authentication:\n  devIssuer: true\nsigningWorkers: 0\n');
  const child = spawn(process.execPath, [LAUNCHER, 'ca', 'serve', '--dir', dir, '--config', config, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'], {
    env: { ...env, CASTELLAN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "castellan CA serving" line in 30 s: ${out.slice(-500)} ${err.slice(-500)}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const l = out.split('\n').find((x) => x.includes('"castellan CA serving"'));
        if (l) {
          clearTimeout(timer);
          resolve(JSON.parse(l) as Record<string, unknown>);
        }
      });
      void exited.then((code) => reject(new Error(`ca serve exited ${code}: ${err.slice(-500)}`)));
    });
    // libuv starts its whole pool at its first use (the config file was read through it).
    await new Promise((r) => setTimeout(r, 300));
    return { line, threads: readdirSync(`/proc/${child.pid}/task`).length };
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
  it("ok/ca serve runs with one libuv pool thread per core but the event loop's, 2 to 4 (counted: its threads)", async () => {
    const expected = Math.min(4, Math.max(2, availableParallelism() - 1));
    const sized = await serving(withoutPoolSize());
    expect(sized.line.UV_THREADPOOL_SIZE).toBe(String(expected));
    // The same CA with a pool two threads larger (set by the environment, which the launcher keeps).
    const larger = await serving({ ...withoutPoolSize(), UV_THREADPOOL_SIZE: String(expected + 2) });
    expect(larger.line.UV_THREADPOOL_SIZE).toBe(String(expected + 2));
    expect(larger.threads - sized.threads).toBe(2);
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

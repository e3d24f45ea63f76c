// The container image, built for real from the repository's Dockerfile with buildah and run with
// podman (docs/image.md): no registry is reachable here, so test/image/build-base.sh first assembles
// the two base images the Dockerfile names (cached as OCI archives under ~/.cache/castellan/image).
// Skipped only when the container tools are missing (.ci/run installs them).
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const IMAGE = 'localhost/castellan:test';
const missing = ['podman', 'buildah', 'debootstrap'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const notRoot = process.getuid?.() !== 0;
const skip = missing.length > 0 || notRoot;
if (skip) console.log(`skipping the container image test: ${missing.length > 0 ? `${missing.join(', ')} not installed (Debian packages)` : 'debootstrap and rootful podman need root'}`);

/**
 * What this sandbox needs (docs/image.md, "What works here"): the process lacks CAP_SYS_RESOURCE, so the
 * runtime may not raise RLIMIT_NOFILE/NPROC (podman's defaults are higher than the hard limits), and
 * crun refuses the hybrid cgroup layout, so runc with limits at or below the hard ones.
 */
function hardLimit(flag: string): number {
  const r = spawnSync('sh', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 1_048_576;
}
const RUNTIME = ['--runtime', 'runc', '--ulimit', `nofile=${Math.min(hardLimit('n'), 65_536)}:${Math.min(hardLimit('n'), 65_536)}`, '--ulimit', `nproc=${Math.min(hardLimit('u'), 10_000) - 1}:${Math.min(hardLimit('u'), 10_000) - 1}`];

const run = promisify(execFile);
async function podman(args: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('podman', args, { encoding: 'utf8', timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(skip)('container image (Dockerfile), built with buildah and run read-only with podman', () => {
  let volume: string;
  const containers: string[] = [];

  beforeAll(async () => {
    // Minutes when nothing is cached (debootstrap, npm ci, a native build); seconds afterwards.
    const base = spawnSync('bash', [path.resolve('test/image/build-base.sh')], { encoding: 'utf8', timeout: 1_500_000 });
    if (base.status !== 0) throw new Error(`build-base.sh failed (${base.status}): ${base.stderr}`);
    const bud = spawnSync(
      'nice',
      [
        'buildah', 'bud', '--pull=never', '--layers', ...RUNTIME,
        // This machine reaches the npm registry through a TLS-intercepting proxy whose CA only the host trusts.
        '--secret', 'id=npm-ca,src=/etc/ssl/certs/ca-certificates.crt',
        '--build-arg', 'REVISION=test',
        '-t', IMAGE, '.',
      ],
      { encoding: 'utf8', timeout: 1_500_000, maxBuffer: 64 * 1024 * 1024 },
    );
    if (bud.status !== 0) throw new Error(`buildah bud failed (${bud.status}): ${bud.stdout.slice(-3000)}${bud.stderr.slice(-3000)}`);
    volume = mkdtempSync(path.join(tmpdir(), 'castellan-image-'));
    chownSync(volume, 65532, 65532); // the image's user owns what it writes, and nothing else
  }, 3_000_000);

  afterAll(async () => {
    for (const c of containers) await podman(['rm', '-f', '-t', '0', c]);
    if (volume) rmSync(volume, { recursive: true, force: true });
  });

  it('ok/image configuration: fixed non-root user, exec-form entrypoint, labels, no shell', async () => {
    const inspect = await podman(['image', 'inspect', IMAGE, '--format', '{{json .Config}}|{{.Size}}']);
    expect(inspect.code, inspect.stderr).toBe(0);
    const [configJson, size] = inspect.stdout.trim().split('|');
    const config = JSON.parse(configJson!) as { User: string; Entrypoint: string[]; Cmd: string[]; Labels: Record<string, string>; ExposedPorts: Record<string, unknown> };
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(['/nodejs/bin/node', '/app/bin/castellan.js']);
    expect(config.Cmd).toEqual(['--help']);
    expect(config.Labels['org.opencontainers.image.title']).toBe('castellan');
    expect(config.Labels['org.opencontainers.image.version']).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    expect(config.Labels['org.opencontainers.image.revision']).toBe('test');
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(['15012/tcp', '15014/tcp']);
    console.log(`castellan image: ${(Number(size) / 1e6).toFixed(1)} MB`);
    const shell = await podman(['run', '--rm', ...RUNTIME, '--entrypoint', '/bin/sh', IMAGE, '-c', 'true']);
    expect(shell.code).not.toBe(0);
    expect(shell.stderr).toMatch(/\/bin\/sh.*(no such file|not found)/i);
  });

  it('ok/what the image holds: the compiled CLI and production dependencies, no keys, tokens or dev tools', async () => {
    const list = await podman([
      'run', '--rm', ...RUNTIME, '--read-only', '--entrypoint', '/nodejs/bin/node', IMAGE, '-e',
      `const fs = require('fs'), p = require('path');
       const out = { app: fs.readdirSync('/app').sort(), suspicious: [], devDeps: [] };
       const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const f = p.join(d, e.name);
         if (e.isDirectory()) walk(f); else if (/(^|[-_.])(key|token)s?\\.(pem|json|txt)$|\\.castellan|ca\\.json$/.test(e.name) && !f.includes('/node_modules/')) out.suspicious.push(f); } };
       walk('/app');
       for (const d of ['typescript', 'vitest', 'tsx', 'madge', 'esbuild']) if (fs.existsSync('/app/node_modules/' + d)) out.devDeps.push(d);
       out.writable = (() => { try { fs.writeFileSync('/app/x', ''); return true; } catch { return false; } })();
       console.log(JSON.stringify(out));`,
    ]);
    expect(list.code, list.stderr).toBe(0);
    const out = JSON.parse(list.stdout) as { app: string[]; suspicious: string[]; devDeps: string[]; writable: boolean };
    expect(out.app).toEqual(['bin', 'dist', 'node_modules', 'package.json', 'proto']);
    expect(out.suspicious).toEqual([]);
    expect(out.devDeps).toEqual([]);
    expect(out.writable).toBe(false);
  });

  it('ok/castellan --version runs with a read-only root filesystem', async () => {
    const r = await podman(['run', '--rm', ...RUNTIME, '--read-only', IMAGE, '--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('ok/ca init, then ca serve read-only: /readyz from the host, a certificate issued and verified, SIGTERM exits 0', async () => {
    const mount = ['-v', `${volume}:/var/lib/castellan`];
    const init = await podman(['run', '--rm', ...RUNTIME, '--read-only', ...mount, IMAGE, 'ca', 'init', '--dir', '/var/lib/castellan/ca', '--trust-domain', 'example.org']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('created CA in /var/lib/castellan/ca');
    const mint = await podman(['run', '--rm', ...RUNTIME, '--read-only', ...mount, IMAGE, 'token', 'mint', '--dir', '/var/lib/castellan/ca', '--namespace', 'default', '--service-account', 'web', '--out', '/var/lib/castellan/web.token']);
    expect(mint.code, mint.stderr).toBe(0);

    const grpcPort = await freePort();
    const httpPort = await freePort();
    const name = `castellan-image-test-${process.pid}`;
    containers.push(name);
    const start = await podman([
      'run', '-d', '--name', name, ...RUNTIME, '--read-only', '--network', 'host', ...mount, IMAGE,
      'ca', 'serve', '--dir', '/var/lib/castellan/ca', '--listen', `127.0.0.1:${grpcPort}`, '--http', `127.0.0.1:${httpPort}`,
    ]);
    expect(start.code, start.stderr).toBe(0);
    const ready = await until('/readyz', async () => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      return r.status === 200 ? r.text() : undefined;
    });
    expect(ready).toBe('ready\n');
    expect((await fetch(`http://127.0.0.1:${httpPort}/livez`)).status).toBe(200);

    // The host's CLI asks the containerised CA for a certificate with the token, and verifies it.
    const req = spawnSync(process.execPath, [
      path.resolve('bin/castellan.js'), 'cert', 'request', '--ca-addr', `127.0.0.1:${grpcPort}`, '--ca-server-name', 'localhost',
      '--ca-bundle', path.join(volume, 'ca', 'bundle.pem'), '--token-file', path.join(volume, 'web.token'),
      '--expect-spiffe-id', 'spiffe://example.org/ns/default/sa/web', '--output', 'json',
    ], { encoding: 'utf8', timeout: 60_000 });
    expect(req.status, req.stderr).toBe(0);
    expect((JSON.parse(req.stdout) as { ok: boolean }).ok).toBe(true);

    const stop = await podman(['stop', '-t', '30', name], 60_000);
    expect(stop.code, stop.stderr).toBe(0);
    const exit = await podman(['inspect', name, '--format', '{{.State.ExitCode}}']);
    expect(exit.stdout.trim()).toBe('0');
    const logs = await podman(['logs', name]);
    expect(logs.stdout + logs.stderr).toContain('castellan CA stopped');
    // The issuance reached the ledger file on the volume (SQLite through the native addon in the image).
    const audit = spawnSync(process.execPath, [path.resolve('bin/castellan.js'), 'audit', 'list', '--dir', path.join(volume, 'ca'), '--output', 'json'], { encoding: 'utf8' });
    expect(audit.status, audit.stderr).toBe(0);
    expect(audit.stdout).toContain('spiffe://example.org/ns/default/sa/web');
  });
});

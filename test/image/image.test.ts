// The container image, built for real from the repository's Dockerfile with buildah and run with
// podman (docs/image.md): no registry is reachable here, so test/image/build-base.sh first assembles
// the two base images the Dockerfile names (cached as OCI archives under ~/.cache/castellan/image).
// Skipped only when the container tools are missing (.ci/run installs them).
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, missingContainerTools as missing, podman, RUNTIME } from '../helpers/image-build.js';

const IMAGE = 'localhost/castellan:test';
// Without root the tools are there but debootstrap and rootful podman fail: that is a failure to see,
// not a reason to skip.
const skip = missing.length > 0;
if (skip) console.log(`skipping the container image test: ${missing.join(', ')} not installed (Debian packages; .ci/run installs them)`);

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

/** `castellan token mint` in the image, for `ns`/`sa`, into `/var/lib/castellan/<file>` of the mounted volume. */
async function mintToken(mount: readonly string[], ns: string, sa: string, file: string): Promise<void> {
  const args = ['token', 'mint', '--dir', '/var/lib/castellan/ca', '--namespace', ns, '--service-account', sa, '--out', `/var/lib/castellan/${file}`];
  const r = await podman(['run', '--rm', ...RUNTIME, '--read-only', ...mount, IMAGE, ...args]);
  expect(r.code, r.stderr).toBe(0);
}

/** `castellan ca serve` of the mounted volume's CA in a detached, read-only container on the host network. */
function serveCa(name: string, mount: readonly string[], grpcPort: number, httpPort: number): ReturnType<typeof podman> {
  const args = ['ca', 'serve', '--dir', '/var/lib/castellan/ca', '--listen', `127.0.0.1:${grpcPort}`, '--http', `127.0.0.1:${httpPort}`];
  return podman(['run', '-d', '--name', name, ...RUNTIME, '--read-only', '--network', 'host', ...mount, IMAGE, ...args]);
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
    buildImage(IMAGE);
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
  }, 180_000);

  it('ok/what the image holds: the compiled CLI and production dependencies, no keys, tokens or dev tools', async () => {
    const list = await podman([
      'run',
      '--rm',
      ...RUNTIME,
      '--read-only',
      '--entrypoint',
      '/nodejs/bin/node',
      IMAGE,
      '-e',
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
  }, 180_000);

  it('ok/castellan --version runs with a read-only root filesystem', async () => {
    const r = await podman(['run', '--rm', ...RUNTIME, '--read-only', IMAGE, '--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  }, 180_000);

  it('ok/ca init, then ca serve read-only: /readyz from the host, a certificate issued and verified, SIGTERM exits 0', async () => {
    const mount = ['-v', `${volume}:/var/lib/castellan`];
    const init = await podman(['run', '--rm', ...RUNTIME, '--read-only', ...mount, IMAGE, 'ca', 'init', '--dir', '/var/lib/castellan/ca', '--trust-domain', 'example.org']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('created CA in /var/lib/castellan/ca');
    await mintToken(mount, 'default', 'web', 'web.token');

    const grpcPort = await freePort();
    const httpPort = await freePort();
    const name = `castellan-image-test-${process.pid}`;
    containers.push(name);
    const start = await serveCa(name, mount, grpcPort, httpPort);
    expect(start.code, start.stderr).toBe(0);
    const ready = await until('/readyz', async () => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      return r.status === 200 ? r.text() : undefined;
    });
    expect(ready).toBe('ready\n');
    expect((await fetch(`http://127.0.0.1:${httpPort}/livez`)).status).toBe(200);

    // The host's CLI asks the containerised CA for a certificate with the token, and verifies it.
    const req = spawnSync(
      process.execPath,
      [
        path.resolve('bin/castellan.js'),
        'cert',
        'request',
        '--ca-addr',
        `127.0.0.1:${grpcPort}`,
        '--ca-server-name',
        'localhost',
        '--ca-bundle',
        path.join(volume, 'ca', 'bundle.pem'),
        '--token-file',
        path.join(volume, 'web.token'),
        '--expect-spiffe-id',
        'spiffe://example.org/ns/default/sa/web',
        '--output',
        'json',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
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
  }, 300_000);

  // The chart's agent DaemonSet as rendered by helm, run with podman as the kubelet would: its init
  // container on a root-owned 0755 host directory (twice: a pod restart), then the node-mode agent,
  // non-root and read-only, serving SDS on a socket only the socket group can reach.
  const fetchedHelm = spawnSync('bash', [path.resolve('test/helm/fetch-helm.sh')], { encoding: 'utf8', timeout: 300_000 });
  it.skipIf(fetchedHelm.status === 3)(
    "ok/the chart's agent: init container, node-mode agent in the image, SDS through the group-only socket",
    async () => {
      const helm = path.join(fetchedHelm.stdout.trim(), 'helm');
      const rendered = spawnSync(
        helm,
        ['template', 'rel', path.resolve('charts/castellan'), '-n', 'castellan-system', '--set', 'trustDomain=example.org', '--show-only', 'templates/agent-daemonset.yaml'],
        { encoding: 'utf8' },
      );
      expect(rendered.status, rendered.stderr).toBe(0);
      const ds = parseAllDocuments(rendered.stdout)
        .map((d) => d.toJS() as { kind: string; spec: any })
        .find((o) => o.kind === 'DaemonSet')!;
      const pod = ds.spec.template.spec;
      const init = pod.initContainers[0] as { command: string[]; securityContext: { runAsUser: number; capabilities: { add: string[] } } };
      const agent = pod.containers[0] as { args: string[]; securityContext: { runAsUser: number; runAsGroup: number } };

      // The host side: a parent others may traverse, and the socket directory as the kubelet creates it.
      const host = mkdtempSync(path.join(tmpdir(), 'castellan-node-'));
      chmodSync(host, 0o755);
      const socketDir = path.join(host, 'castellan');
      mkdirSync(socketDir, { mode: 0o755 });
      try {
        for (const round of [1, 2]) {
          const r = await podman([
            'run',
            '--rm',
            ...RUNTIME,
            '--read-only',
            '--user',
            String(init.securityContext.runAsUser),
            '--cap-drop',
            'ALL',
            ...init.securityContext.capabilities.add.flatMap((c) => ['--cap-add', c]),
            '--security-opt',
            'no-new-privileges',
            '-v',
            `${socketDir}:/var/run/castellan`,
            '--entrypoint',
            init.command[0]!,
            IMAGE,
            ...init.command.slice(1),
          ]);
          expect(r.code, `init container, round ${round}: ${r.stderr}`).toBe(0);
          const st = statSync(socketDir);
          expect([st.mode & 0o777, st.uid, st.gid], `round ${round}`).toEqual([0o750, 65532, 65532]);
        }

        // A CA to talk to (the one of the previous test, again), and tokens for the agent and a pod.
        const mount = ['-v', `${volume}:/var/lib/castellan`];
        for (const [ns, sa, file] of [
          ['castellan-system', 'rel-castellan-agent', 'agent.token'],
          ['shop', 'web', 'pod.token'],
        ] as const) {
          await mintToken(mount, ns, sa, file);
        }
        const grpcPort = await freePort();
        const caName = `castellan-image-ca-${process.pid}`;
        containers.push(caName);
        const ca = await serveCa(caName, mount, grpcPort, await freePort());
        expect(ca.code, ca.stderr).toBe(0);

        // The agent exactly as rendered, but pointed at this CA (no cluster DNS here).
        const httpPort = await freePort();
        const args = agent.args.map((a) => (a.startsWith('--ca-addr=') ? `--ca-addr=127.0.0.1:${grpcPort}` : a.startsWith('--http=') ? `--http=127.0.0.1:${httpPort}` : a));
        const agentName = `castellan-image-agent-${process.pid}`;
        containers.push(agentName);
        const started = await podman([
          'run',
          '-d',
          '--name',
          agentName,
          ...RUNTIME,
          '--read-only',
          '--network',
          'host',
          '--user',
          `${agent.securityContext.runAsUser}:${agent.securityContext.runAsGroup}`,
          '--cap-drop',
          'ALL',
          '--security-opt',
          'no-new-privileges',
          '-v',
          `${socketDir}:/var/run/castellan`,
          '-v',
          `${path.join(volume, 'ca', 'bundle.pem')}:/etc/castellan/ca/root-cert.pem:ro`,
          '-v',
          `${path.join(volume, 'agent.token')}:/var/run/secrets/castellan/token:ro`,
          IMAGE,
          ...args,
          '--ca-server-name=localhost',
        ]);
        expect(started.code, started.stderr).toBe(0);
        await until('the agent /readyz', async () => ((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200 ? true : undefined));
        const sock = statSync(path.join(socketDir, 'sds.sock'));
        expect([sock.isSocket(), sock.mode & 0o777, sock.uid, sock.gid]).toEqual([true, 0o660, 65532, 65532]);

        // A workload process (uid 1337, like Istio's proxy) in the socket group gets its identity over SDS;
        // the same process outside the group cannot even connect.
        const client = path.join(host, 'sds-client.mjs');
        writeFileSync(
          client,
          `import { SdsClient } from ${JSON.stringify(path.resolve('dist/sds/index.js'))};
         import { X509Certificate } from 'node:crypto';
         import { readFileSync } from 'node:fs';
         const sds = new SdsClient({ socketPath: process.argv[2], token: readFileSync(process.argv[3], 'utf8').trim() });
         const t = setTimeout(() => { console.log(JSON.stringify({ error: 'no identity in time' })); process.exit(1); }, Number(process.argv[4]));
         const id = await sds.ready();
         clearTimeout(t);
         console.log(JSON.stringify({ san: new X509Certificate(id.certificateChainPem).subjectAltName }));
         sds.close();`,
          { mode: 0o644 },
        );
        const tokenCopy = path.join(host, 'pod.token');
        writeFileSync(tokenCopy, readFileSync(path.join(volume, 'pod.token')), { mode: 0o644 });
        const asWorkload = (gid: number, waitMs: number) =>
          spawnSync(process.execPath, [client, path.join(socketDir, 'sds.sock'), tokenCopy, String(waitMs)], { uid: 1337, gid, encoding: 'utf8', timeout: 60_000 });
        const inGroup = asWorkload(65532, 30_000);
        expect(inGroup.status, inGroup.stderr).toBe(0);
        expect(JSON.parse(inGroup.stdout)).toEqual({ san: 'URI:spiffe://example.org/ns/shop/sa/web' });
        const outside = asWorkload(1337, 5_000);
        expect(outside.status).not.toBe(0);
        expect(JSON.parse(outside.stdout)).toEqual({ error: 'no identity in time' });

        const stop = await podman(['stop', '-t', '30', agentName], 60_000);
        expect(stop.code, stop.stderr).toBe(0);
        expect((await podman(['inspect', agentName, '--format', '{{.State.ExitCode}}'])).stdout.trim()).toBe('0');
        expect(() => statSync(path.join(socketDir, 'sds.sock'))).toThrow(/ENOENT/);
      } finally {
        rmSync(host, { recursive: true, force: true });
      }
    },
    300_000,
  );
});

// What a running agent loads (docs/architecture.md §5): the built CLI (`npm run build`) run as a sidecar
// agent, holding and serving one SVID, with a module-load hook recording every module Node loads. The
// agent runs from the bundle (dist/bundle/, scripts/bundle-cli.mjs), whose contents.json says what each
// chunk holds. An agent runs beside every pod: the CA (and with it SQLite, PostgreSQL, PKCS#11), the
// Kubernetes client, the X.509 and ASN.1 libraries, the YAML parser (no --config here) and zod must stay
// out of it (docs/agent.md, "Memory").
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SdsClient } from '../../sds/index.js';
import { agentFixture } from '../helpers/agent-fixture.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  await f.cleanup();
});

/**
 * A preload that appends the URL of every module loaded through Node's module loader (ESM, and CommonJS
 * reached by an import) to `list`, and at exit the files of the CommonJS require cache.
 */
function moduleTracer(dir: string, list: string): string {
  const hooks = path.join(dir, 'trace-hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(list)}, url + '\\n');
  return next(url, context);
}
`,
  );
  const preload = path.join(dir, 'trace.mjs');
  writeFileSync(
    preload,
    `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(${JSON.stringify(list)}, Object.keys(require.cache).map((f) => 'file://' + f + '\\n').join('')));
`,
  );
  return preload;
}

/** The npm package a module URL belongs to (`@grpc/grpc-js`), or undefined for the project's own files and Node's. */
const packageOf = (url: string) => /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(url)?.[1];

describe('castellan agent: what it loads', () => {
  it('ok/a sidecar agent serving an SVID runs from the bundle and holds the agent alone: not the CA, its stores, the Kubernetes client, ASN.1, YAML or zod', async () => {
    const token = path.join(f.dir, 'token');
    await f.writeToken(token, 'shop', 'cart');
    writeFileSync(path.join(f.dir, 'bundle.pem'), f.bundlePem);
    const socketPath = path.join(f.dir, 'sds.sock');
    const list = path.join(f.dir, 'modules.txt');
    writeFileSync(list, '');
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(moduleTracer(f.dir, list)).href,
        path.resolve('bin/castellan.js'),
        'agent',
        '--ca-addr',
        f.address,
        '--ca-bundle',
        'bundle.pem',
        '--token-file',
        'token',
        '--socket',
        socketPath,
        '--http',
        '127.0.0.1:0',
      ],
      { cwd: f.dir, env: { ...process.env, CASTELLAN_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 600 && !/serving Envoy SDS/.test(err) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
      expect(err).toMatch(/castellan agent \(sidecar mode\) serving Envoy SDS/);
      const sds = new SdsClient({ socketPath });
      const id = await sds.ready();
      sds.close();
      expect(id.certificateChainPem).toContain('BEGIN CERTIFICATE');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    const urls = [...new Set(readFileSync(list, 'utf8').split('\n').filter(Boolean))];
    const ours = urls.filter((u) => u.includes('/dist/')).map((u) => u.slice(u.lastIndexOf('/dist/') + 6));
    // Everything of Castellan's and of its dependencies came from the bundle: no module of dist/ as
    // compiled, no package from node_modules.
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.filter((m) => !m.startsWith('bundle/'))).toEqual([]);
    expect(urls.map(packageOf).filter((p) => p !== undefined)).toEqual([]);

    const contents = JSON.parse(readFileSync(path.resolve('dist/bundle/contents.json'), 'utf8')) as Record<string, { packages: string[]; modules: string[] }>;
    const chunks = ours.map((m) => m.slice('bundle/'.length));
    for (const c of chunks) expect(contents[c], `${c} in contents.json`).toBeDefined();
    const modules = new Set(chunks.flatMap((c) => contents[c]!.modules));
    const packages = new Set(chunks.flatMap((c) => contents[c]!.packages));
    // It did run the agent.
    expect([...modules]).toEqual(expect.arrayContaining(['cli/agent.js', 'sds/agent.js', 'sds/workload-socket.js']));
    expect([...packages]).toEqual(expect.arrayContaining(['@grpc/grpc-js', 'pino']));
    // Nothing of the CA, nor the commands it does not run.
    expect([...modules].filter((m) => m.startsWith('ca/'))).toEqual([]);
    expect(
      [...modules].filter((m) => m.startsWith('cli/') && !['cli/main.js', 'cli/io.js', 'cli/agent.js', 'cli/agent-v8.js', 'cli/logger.js', 'cli/log-text.js'].includes(m)),
    ).toEqual([]);
    for (const p of [
      'better-sqlite3',
      'pg',
      'pkcs11js',
      'graphene-pk11',
      '@kubernetes/client-node',
      '@peculiar/x509',
      '@peculiar/asn1-x509',
      'asn1js',
      'tsyringe',
      'reflect-metadata',
      'zod',
      'yaml',
      'jose',
    ]) {
      expect(packages.has(p), `${p} loaded by the agent`).toBe(false);
    }
  }, 60_000);

  it('fail/the bundled agent reads a --config file with the YAML parser: a wrong value and broken YAML are named, exit 1', () => {
    const bad = path.join(f.dir, 'bad.yaml');
    writeFileSync(bad, 'caAddr: 127.0.0.1:1\nttl: soon\n');
    const broken = path.join(f.dir, 'broken.yaml');
    writeFileSync(broken, 'mode: [1\n');
    const agent = (file: string) => spawnSync(process.execPath, [path.resolve('bin/castellan.js'), 'agent', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    const r1 = agent(bad);
    expect(r1.status, r1.stderr).toBe(1);
    expect(r1.stderr).toContain(`config ${bad}: 1 problem:\n  ttl: "soon" is not a duration`);
    const r2 = agent(broken);
    expect(r2.status, r2.stderr).toBe(1);
    expect(r2.stderr).toContain(`config: ${broken}:2:1: not valid YAML/JSON: `);
    // From the bundle, not from dist/cli/ (which would say so).
    expect(r1.stderr + r2.stderr).not.toMatch(/older than dist\/cli/);
  });
});

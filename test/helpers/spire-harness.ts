// A local SPIRE deployment (spire-server + spire-agent v1.13.3, built by test/spire/build.sh) for the
// federation interop tests: configuration written from SPIRE's doc/spire_server.md and doc/spire_agent.md,
// join-token node attestation, unix workload attestation, a SQLite datastore, all in a temp directory on
// loopback ports.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where the SPIRE binaries are: CASTELLAN_SPIRE_BIN, else the build script's default cache. */
export function spireBinDir(): string {
  return process.env['CASTELLAN_SPIRE_BIN'] ?? path.join(process.env['CASTELLAN_SPIRE_CACHE'] ?? path.join(homedir(), '.cache', 'castellan', 'spire'), 'bin');
}

export function haveSpire(): boolean {
  const d = spireBinDir();
  return existsSync(path.join(d, 'spire-server')) && existsSync(path.join(d, 'spire-agent'));
}

/** Builds SPIRE with test/spire/build.sh when Go is there and the cache is empty (cold: minutes). */
export async function ensureSpire(): Promise<string> {
  if (haveSpire()) return spireBinDir();
  const r = await run('nice', ['bash', 'test/spire/build.sh'], { encoding: 'utf8', timeout: 3_600_000, maxBuffer: 16 * 1024 * 1024 });
  return r.stdout.trim();
}

export const haveGo = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;

/** A free loopback TCP port (bound and released; the caller binds it next). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface SpireOptions {
  readonly dir: string;
  readonly trustDomain: string;
  /** The foreign trust domain SPIRE federates with and its https_spiffe endpoint. */
  readonly federatesWith: { readonly trustDomain: string; readonly url: string; readonly endpointSpiffeId: string };
  /** spiffe_refresh_hint of SPIRE's own bundle endpoint. */
  readonly refreshHint?: string;
}

/** One spire-server with its bundle endpoint, and (after startAgent) one spire-agent. */
export class Spire {
  readonly serverPort: number;
  readonly bundlePort: number;
  readonly serverSocket: string;
  readonly agentSocket: string;
  readonly logs: string[] = [];
  private readonly procs: ChildProcess[] = [];
  private readonly bin: string;

  private constructor(
    readonly o: SpireOptions,
    ports: [number, number],
  ) {
    this.bin = spireBinDir();
    [this.serverPort, this.bundlePort] = ports;
    this.serverSocket = path.join(o.dir, 'server.sock');
    this.agentSocket = path.join(o.dir, 'agent.sock');
  }

  static async startServer(o: SpireOptions): Promise<Spire> {
    mkdirSync(o.dir, { recursive: true });
    const s = new Spire(o, [await freePort(), await freePort()]);
    const conf = path.join(o.dir, 'server.conf');
    writeFileSync(
      conf,
      `server {
  bind_address = "127.0.0.1"
  bind_port = "${s.serverPort}"
  socket_path = "${s.serverSocket}"
  trust_domain = "${o.trustDomain}"
  data_dir = "${path.join(o.dir, 'server-data')}"
  log_level = "DEBUG"
  ca_ttl = "24h"
  default_x509_svid_ttl = "1h"
  federation {
    bundle_endpoint {
      address = "127.0.0.1"
      port = ${s.bundlePort}
      refresh_hint = "${o.refreshHint ?? '5s'}"
      profile "https_spiffe" {}
    }
    federates_with "${o.federatesWith.trustDomain}" {
      bundle_endpoint_url = "${o.federatesWith.url}"
      bundle_endpoint_profile "https_spiffe" {
        endpoint_spiffe_id = "${o.federatesWith.endpointSpiffeId}"
      }
    }
  }
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "${path.join(o.dir, 'server-data', 'datastore.sqlite3')}"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`,
    );
    s.spawn(path.join(s.bin, 'spire-server'), ['run', '-config', conf], 'server');
    await s.waitFor(async () => (await s.cli(['healthcheck'])).code === 0, 'spire-server healthy');
    return s;
  }

  /** Runs `spire-server <args>` against this server's socket. */
  async cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(path.join(this.bin, 'spire-server'), [...args, '-socketPath', this.serverSocket], { encoding: 'utf8', timeout: 30_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** `spire-server <args>`, failing the test with SPIRE's own message when it fails. */
  async must(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`spire-server ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** Starts a spire-agent attested with a join token whose alias is `spiffe://<td>/agent`. */
  async startAgent(): Promise<void> {
    const out = await this.must(['token', 'generate', '-spiffeID', `spiffe://${this.o.trustDomain}/agent`, '-ttl', '3600']);
    const token = /Token:\s*(\S+)/.exec(out)?.[1];
    if (!token) throw new Error(`spire-server token generate said: ${out}`);
    const bootstrap = path.join(this.o.dir, 'bootstrap.pem');
    writeFileSync(bootstrap, await this.must(['bundle', 'show']));
    const conf = path.join(this.o.dir, 'agent.conf');
    writeFileSync(
      conf,
      `agent {
  data_dir = "${path.join(this.o.dir, 'agent-data')}"
  log_level = "DEBUG"
  server_address = "127.0.0.1"
  server_port = "${this.serverPort}"
  socket_path = "${this.agentSocket}"
  trust_bundle_path = "${bootstrap}"
  trust_domain = "${this.o.trustDomain}"
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`,
    );
    this.spawn(path.join(this.bin, 'spire-agent'), ['run', '-config', conf, '-joinToken', token], 'agent');
    await this.waitFor(async () => {
      try {
        await run(path.join(this.bin, 'spire-agent'), ['healthcheck', '-socketPath', this.agentSocket], { timeout: 10_000 });
        return true;
      } catch {
        return false;
      }
    }, 'spire-agent healthy');
  }

  private spawn(file: string, args: string[], name: string): void {
    const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line) this.logs.push(`${name}: ${line}`);
      if (this.logs.length > 5000) this.logs.splice(0, this.logs.length - 5000);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.procs.push(p);
  }

  async waitFor(cond: () => Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
    const started = Date.now();
    while (!(await cond())) {
      if (this.procs.some((p) => p.exitCode !== null)) throw new Error(`${what}: a SPIRE process exited; its log:\n${this.logs.slice(-40).join('\n')}`);
      if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}; SPIRE log:\n${this.logs.slice(-40).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    for (const p of this.procs.reverse()) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  }
}

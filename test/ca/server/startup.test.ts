// Start-up is all-or-nothing (docs/cli.md, `ca serve`): a CA that cannot bind a port or authenticate
// anyone does not start, records nothing, and publishes no agent report (which would open the root
// activation gate: SECURITY.md).
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initCa, openLedgerStore, readAgentReports, type CaServerConfig } from '../../../ca/index.js';
import { TrustDomain } from '../../../workload-identity/index.js';
import { cli } from '../../helpers/cli.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
let dir: string;
const busy: Server[] = [];
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
});
afterEach(async () => {
  for (const s of busy.splice(0)) await new Promise((r) => s.close(r));
  t.cleanup();
});

/** A port some other process listens on. */
async function takenPort(): Promise<number> {
  const s = createServer();
  busy.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function ledgerEvents(): Promise<string[]> {
  const store = await openLedgerStore({ dir, readOnly: true }).catch(() => undefined);
  if (!store) return [];
  try {
    return (await store.scan(0, 1000)).map((r) => r.event ?? r.type);
  } finally {
    await store.close();
  }
}

describe('ca serve start-up', () => {
  for (const which of ['http', 'listen'] as const) {
    it(`fail/the ${which} port is taken: the start fails naming its setting; no serving certificate is recorded, no agent report written`, async () => {
      const port = await takenPort();
      const config: CaServerConfig = which === 'http' ? { http: `127.0.0.1:${port}` } : { listen: `127.0.0.1:${port}` };
      const err = await testCaServer(dir, config, true).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'ERR_LISTEN', message: expect.stringContaining(`127.0.0.1:${port}`) });
      expect((err as Error).message).toContain(which === 'http' ? '--http' : '--listen');
      expect((err as Error).message).toContain('already in use');
      expect(await ledgerEvents()).not.toContain('serving-certificate-issued');
      const view = await readAgentReports(dir, new Date());
      expect(view.replicas).toEqual([]);
      expect(view.known).toBe(false);
    });
  }

  it('fail/the castellan process exits 1 with the flag in its message, instead of running without health endpoints', async () => {
    const port = await takenPort();
    const bin = path.resolve('bin/castellan.js');
    const r = spawnSync(process.execPath, [bin, 'ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--http', `127.0.0.1:${port}`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port} for health and metrics`);
    expect(r.stderr).toContain('--http');
  });

  it('fail/a failed start leaves the root activation gate closed (no report saying "no agents")', async () => {
    const port = await takenPort();
    await testCaServer(dir, { listen: `127.0.0.1:${port}` }, true).catch(() => undefined);
    expect((await cli(['root', 'prepare', '--dir', dir])).code).toBe(0);
    const act = await cli(['root', 'activate', '--dir', dir]);
    expect(act.code).toBe(3);
    expect(act.err).toContain('no CA has reported its agents');
  });

  it('fail/a config without any token authenticator does not start (fail closed); clientCertificateOnly says so explicitly', async () => {
    await expect(testCaServer(dir, {})).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('no token authenticator') });
    expect(await ledgerEvents()).not.toContain('serving-certificate-issued');
    const s = await testCaServer(dir, { authentication: { clientCertificateOnly: true } });
    try {
      expect(s.lines.join('')).toContain('only renewal by client certificate is possible');
    } finally {
      await s.server.shutdown(1000);
    }
  });

  it('ok/a CA that starts serving publishes its report; one with no agent yet counts as knowing them only after the warm-up', async () => {
    const s = await testCaServer(dir, { rotation: { agentWarmup: 60_000 } }, true);
    try {
      await s.server.agents.flush();
      const early = await readAgentReports(dir, new Date());
      expect(early.replicas).toHaveLength(1);
      expect(early.known).toBe(false);
      expect(early.why).toContain('started less than 60 s ago');
      expect((await readAgentReports(dir, new Date(Date.now() + 61_000), { freshMs: 120_000 })).known).toBe(true);
    } finally {
      await s.server.shutdown(1000);
    }
  });
});

import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDevTokenIssuer } from '../../ca/index.js';
import { mintServiceAccountToken } from '../../workload-identity/index.js';
import { cli } from '../helpers/cli.js';
import { testCaServer } from '../helpers/ca-server.js';
import { rawLedgerSql } from '../helpers/ledger-sql.js';
import { reportAgent } from '../helpers/rotation.js';
import { tempDir } from '../helpers/test-ca.js';

const ADMIN = 'spiffe://cluster.local/ns/castellan-system/sa/castellan-admin';
const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
  for (const sa of ['cart', 'web'])
    expect((await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', `spiffe://cluster.local/ns/shop/sa/${sa}`, '--out', path.join(t.dir, sa)])).code).toBe(0);
});
afterEach(() => t.cleanup());

async function adminToken(): Promise<string> {
  const issuer = await loadDevTokenIssuer(dir);
  const file = path.join(t.dir, 'admin.token');
  writeFileSync(
    file,
    await mintServiceAccountToken(issuer.privateKey, issuer.kid, {
      issuer: issuer.issuer,
      audiences: ['castellan'],
      namespace: 'castellan-system',
      serviceAccount: 'castellan-admin',
      ttlSeconds: 3600,
    }),
    { mode: 0o600 },
  );
  return file;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('castellan check --dir: the ledger', () => {
  it('ok/a sound ledger: its last record and head witness are shown; every expiry with its date', async () => {
    await reportAgent(dir, 1);
    const r = await cli(['check', '--dir', dir]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^ {2}ledger {3}ok: .*ledger\.db, last record \d+, head witness at checkpoint \d+$/m);
    expect(r.out).toMatch(/^ {2}expiry {3}root 1 +20\d\d-\d\d-\d\dT[\d:.]+Z {2}in \d+/m);
    expect(r.out).toMatch(/^ {11}intermediate 1 +20\d\d-\d\d-\d\dT[\d:.]+Z {2}in \d+/m);
    const j = JSON.parse((await cli(['check', '--dir', dir, '--output', 'json'])).out);
    expect(j.status).toBe('healthy');
    expect(j.ledger).toMatchObject({ checked: true, state: 'ok' });
    expect(j.expiry.map((e: { what: string }) => e.what)).toEqual(['root 1', 'intermediate 1']);
    expect(j.expiry[1].inSeconds).toBeGreaterThan(300 * 86_400);
  });

  it('fail/a truncated ledger is FAILING (exit 5), not "WARN agents unknown"', async () => {
    await reportAgent(dir, 1);
    await rawLedgerSql({ file: path.join(dir, 'ledger.db') }).run('DELETE FROM {T} WHERE seq > 2');
    const r = await cli(['check', '--dir', dir]);
    expect(r.code).toBe(5);
    expect(r.out).toMatch(/^FAILING/);
    expect(r.out).toMatch(/FAIL the ledger is BROKEN .*truncated or rewritten/);
    expect(r.out).toContain('do: castellan audit verify');
  });

  it('fail/a ledger moved aside (another one in its place) is FAILING', async () => {
    await reportAgent(dir, 1);
    renameSync(path.join(dir, 'ledger.db'), path.join(t.dir, 'old-ledger.db'));
    const other = path.join(t.dir, 'other');
    expect((await cli(['ca', 'init', '--dir', other])).code).toBe(0);
    renameSync(path.join(other, 'ledger.db'), path.join(dir, 'ledger.db'));
    const j = JSON.parse((await cli(['check', '--dir', dir, '--output', 'json'])).out);
    expect(j.status).toBe('failing');
    expect(j.ledger).toMatchObject({ state: 'broken' });
    expect(j.findings[0].what).toContain('moved aside, deleted or replaced');
  });
});

describe('castellan check --dir --http: is the CA up', () => {
  it('ok/the CA answers /readyz: shown as ready', async () => {
    const ca = await testCaServer(dir, {}, true);
    try {
      await reportAgent(dir, 1);
      const r = await cli(['check', '--dir', dir, '--http', `127.0.0.1:${ca.server.httpPort}`]);
      expect(r.out).toMatch(new RegExp(`^ {2}CA {7}ready at 127\\.0\\.0\\.1:${ca.server.httpPort}$`, 'm'));
      expect(r.code, r.out).toBe(0);
    } finally {
      await ca.server.shutdown(100);
    }
  });

  it('fail/nothing answers at --http: FAILING, naming the address', async () => {
    await reportAgent(dir, 1);
    const port = await freePort();
    const r = await cli(['check', '--dir', dir, '--http', `127.0.0.1:${port}`, '--output', 'json']);
    expect(r.code).toBe(5);
    const j = JSON.parse(r.out);
    expect(j.ca).toMatchObject({ state: 'down', detail: 'ECONNREFUSED' });
    expect(j.findings[0].what).toContain(`the CA does not answer at 127.0.0.1:${port}`);
  });
});

describe('castellan check --config: the http address from the configuration', () => {
  it('ok/ready at the configured address; fail/down there is a warning (it may run elsewhere)', async () => {
    const ca = await testCaServer(dir, {}, true);
    try {
      await reportAgent(dir, 1);
      writeFileSync(path.join(t.dir, 'up.yaml'), `http: 127.0.0.1:${ca.server.httpPort}\nauthentication:\n  devIssuer: true\n`);
      const up = await cli(['check', '--dir', dir, '--config', path.join(t.dir, 'up.yaml'), '--output', 'json']);
      expect(up.code, up.out).toBe(0);
      expect(JSON.parse(up.out).ca).toEqual({ address: `127.0.0.1:${ca.server.httpPort}`, state: 'ready' });
    } finally {
      await ca.server.shutdown(100);
    }
    const port = await freePort();
    writeFileSync(path.join(t.dir, 'down.yaml'), `http: 127.0.0.1:${port}\nauthentication:\n  devIssuer: true\n`);
    const down = await cli(['check', '--dir', dir, '--config', path.join(t.dir, 'down.yaml')]);
    expect(down.code).toBe(4);
    expect(down.out).toMatch(/WARN the CA does not answer at 127\.0\.0\.1:\d+ \(its configured http address\) from here/);
  });
});

describe('castellan check --server: through the running CA', () => {
  it('ok/readiness, build, ledger, serving certificate and agents from the CA itself', async () => {
    const ca = await testCaServer(dir, { admin: { identities: [ADMIN] }, rotation: { agentWarmup: 1 } }, true);
    try {
      const args = ['check', '--server', ca.address, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', await adminToken()];
      const r = await cli(args);
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.out).toMatch(/^HEALTHY: trust domain cluster\.local, bundle 1, phase idle, agents 0\/0 current$/m);
      expect(r.out).toMatch(/CA {7}ready at 127\.0\.0\.1:\d+ \(replica .*, leader; version 0\.1\.0, commit \S+\)/);
      expect(r.out).toMatch(/serving certificate +20\d\d-.*in 2[34]h/);
      const j = JSON.parse((await cli([...args, '--output', 'json'])).out);
      expect(j.ca).toMatchObject({ state: 'ready', server: { version: '0.1.0', leader: true } });
      expect(j.ledger).toMatchObject({ checked: true, state: 'ok', enabled: true, writer: { broken: false } });
      expect(j.expiry.map((e: { what: string }) => e.what)).toEqual(['root 1', 'intermediate 1', 'serving certificate']);
    } finally {
      await ca.server.shutdown(100);
    }
  });

  it('fail/the ledger truncated under the running CA: FAILING through the API too', async () => {
    const ca = await testCaServer(dir, { admin: { identities: [ADMIN] } }, true);
    try {
      await rawLedgerSql({ file: path.join(dir, 'ledger.db') }).run('DELETE FROM {T} WHERE seq > 2');
      const r = await cli(['check', '--server', ca.address, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', await adminToken()]);
      expect(r.code).toBe(5);
      expect(r.out).toMatch(/FAIL the ledger is BROKEN/);
    } finally {
      await ca.server.shutdown(100);
    }
  });

  it('fail/a CA that cannot be reached: exit 1 naming the flags; --wait waits for it to come up', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const args = ['check', '--server', `127.0.0.1:${port}`, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', await adminToken()];
    const down = await cli([...args, '--output', 'json']);
    expect(down.code).toBe(1);
    expect(JSON.parse(down.err)).toMatchObject({ error: { code: 'ERR_ROOT_ADMIN' } });
    expect(down.err).not.toContain('Resolution note');

    const waited = cli([...args, '--wait', '60s']);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const ca = await testCaServer(dir, { admin: { identities: [ADMIN] }, listen: `127.0.0.1:${port}`, rotation: { agentWarmup: 1 } }, true);
    try {
      const r = await waited;
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.err).toMatch(/waiting \(.* left\): cannot reach the CA/);
      expect(r.out).toMatch(/^HEALTHY/);
    } finally {
      await ca.server.shutdown(100);
    }
  });

  it('fail/--wait gives up when the time is up, with the last exit code', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await cli(['check', '--server', `127.0.0.1:${port}`, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', await adminToken(), '--wait', '3s']);
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(r.err).toContain(`cannot reach the CA at 127.0.0.1:${port}`);
  });

  it('fail/wrong usage: --dir with --server, --http with --server', async () => {
    expect((await cli(['check', '--dir', dir, '--server', '127.0.0.1:1'])).code).toBe(2);
    expect((await cli(['check', '--server', '127.0.0.1:1', '--http', '127.0.0.1:2', '--ca-bundle', 'x', '--token-file', 'y'])).code).toBe(2);
    expect((await cli(['check'])).code).toBe(2);
  });
});

void ID;

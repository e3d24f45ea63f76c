import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDevTokenIssuer } from '../../ca/index.js';
import { buildInfo, mintServiceAccountToken } from '../../workload-identity/index.js';
import { cli } from '../helpers/cli.js';
import { testCaServer } from '../helpers/ca-server.js';
import { tempDir } from '../helpers/test-ca.js';

const ADMIN = 'spiffe://cluster.local/ns/castellan-system/sa/castellan-admin';

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
});
afterEach(() => t.cleanup());

async function token(ns: string, sa: string): Promise<string> {
  const issuer = await loadDevTokenIssuer(dir);
  const file = path.join(t.dir, `${sa}.token`);
  writeFileSync(
    file,
    await mintServiceAccountToken(issuer.privateKey, issuer.kid, { issuer: issuer.issuer, audiences: ['castellan'], namespace: ns, serviceAccount: sa, ttlSeconds: 600 }),
  );
  return file;
}

describe('castellan version', () => {
  it('ok/the client: version, commit and Node.js version of this build', async () => {
    const r = await cli(['version', '--output', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toEqual({ client: buildInfo() });
    expect(j.client.version).toBe('0.1.0');
    expect(j.client.commit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    expect((await cli(['version'])).out).toBe(`client  castellan 0.1.0 (commit ${j.client.commit}, Node.js ${process.versions.node})\n`);
  });

  it("ok/--server: the running CA's build too, through its API", async () => {
    const ca = await testCaServer(dir, { admin: { identities: [ADMIN] }, replicaId: 'ca-7' }, true);
    try {
      const args = ['version', '--server', ca.address, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', await token('castellan-system', 'castellan-admin')];
      const j = JSON.parse((await cli([...args, '--output', 'json'])).out);
      expect(j.server).toEqual({ ...buildInfo(), replica: 'ca-7', leader: true });
      const text = await cli(args);
      expect(text.out).toMatch(
        new RegExp(`^server  castellan 0\\.1\\.0 \\(commit \\S+, Node\\.js [\\d.]+\\) at ${ca.address.replace(/\./g, '\\.')}, replica ca-7 \\(leader\\)$`, 'm'),
      );
    } finally {
      await ca.server.shutdown(100);
    }
  });

  it('fail/--server with a credential outside admin.identities: exit 1, ERR_NOT_ADMIN', async () => {
    const ca = await testCaServer(dir, { admin: { identities: [ADMIN] } }, true);
    try {
      const r = await cli(['version', '--server', ca.address, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', await token('shop', 'web'), '--output', 'json']);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.err).error.code).toBe('ERR_NOT_ADMIN');
    } finally {
      await ca.server.shutdown(100);
    }
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caHealthOf, caProtos, certificatesFromPem, loadCa, loadDevTokenIssuer, rootStatusOf } from '../../ca/index.js';
import type { CaV1 } from '../../proto-types/index.js';
import { mintServiceAccountToken } from '../../workload-identity/index.js';
import { cli } from '../helpers/cli.js';
import { caClients, unary } from '../helpers/ca-client.js';
import { testCaServer } from '../helpers/ca-server.js';
import { tempDir } from '../helpers/test-ca.js';
import { until } from '../helpers/until.js';

const ADMIN = 'spiffe://cluster.local/ns/castellan-system/sa/castellan-admin';

let t: ReturnType<typeof tempDir>;
let dir: string;
let ca: Awaited<ReturnType<typeof testCaServer>>;
let mint: (ns: string, sa: string) => Promise<string>;

beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
  ca = await testCaServer(dir, { admin: { identities: [ADMIN] }, rotation: { reloadInterval: 100 } }, true);
  const issuer = await loadDevTokenIssuer(dir);
  mint = (namespace, serviceAccount) =>
    mintServiceAccountToken(issuer.privateKey, issuer.kid, { issuer: issuer.issuer, audiences: ['castellan'], namespace, serviceAccount, ttlSeconds: 3600 });
  writeFileSync(path.join(t.dir, 'admin.token'), await mint('castellan-system', 'castellan-admin'), { mode: 0o600 });
  writeFileSync(path.join(t.dir, 'web.token'), await mint('shop', 'web'), { mode: 0o600 });
});
afterEach(async () => {
  await ca.server.shutdown(100);
  t.cleanup();
});

const server = (token = 'admin.token') => ['--server', ca.address, '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', path.join(t.dir, token)];

/** An agent reporting (ReportTrustBundle over real gRPC) the bundle sequence it serves. */
async function report(agentId: string, sequence: number): Promise<number> {
  const c = caClients(ca.address, (await loadCa(dir)).bundle.map((r) => r.pem).join(''));
  try {
    return (await unary(c.castellan, 'ReportTrustBundle', { agentId, sequence }, await mint('castellan-system', 'castellan-agent'))).code;
  } finally {
    c.close();
  }
}

describe('castellan root --server (RootAdmin on a running CA)', () => {
  it('ok/RootAdmin answers the typed status and health, and the same as JSON for clients of the previous release', async () => {
    const roots = (await loadCa(dir)).bundle.map((r) => r.pem).join('');
    const admin = new (caProtos().rootAdmin)(ca.address, credentials.createSsl(Buffer.from(roots)), {
      'grpc.ssl_target_name_override': 'localhost',
      'grpc.default_authority': 'localhost',
    });
    try {
      const token = await mint('castellan-system', 'castellan-admin');
      const st = await unary<CaV1.RootStepResponse__Output>(admin, 'GetRootStatus', {}, token);
      expect(st.code, st.details).toBe(0);
      expect(st.response?.status).toMatchObject({ trustDomain: 'cluster.local', bundleSequence: 1, phase: 'idle' });
      // Byte for byte what the previous release sent: old clients print the same.
      expect(st.response!.statusJson).toBe(JSON.stringify(rootStatusOf(st.response!.status!), null, 2));
      const h = await unary<CaV1.GetHealthResponse__Output>(admin, 'GetHealth', {}, token);
      expect(h.code, h.details).toBe(0);
      expect(h.response?.health).toMatchObject({ ready: true, rotation: { phase: 'idle' } });
      expect(h.response!.healthJson).toBe(JSON.stringify(caHealthOf(h.response!.health!)));
    } finally {
      admin.close();
    }
  });

  it('ok/prepare, activate (after refusing a stale agent), retire through the CA, which applies each step at once', async () => {
    const st = await cli(['root', 'status', ...server(), '--output', 'json']);
    expect(st.code, st.err).toBe(0);
    expect(JSON.parse(st.out)).toMatchObject({ bundleSequence: 1, phase: 'idle' });

    const prep = await cli(['root', 'prepare', ...server()]);
    expect(prep.code, prep.err).toBe(0);
    expect(prep.out).toContain('prepared root 2');
    // Applied by the running server right away: its bundle stream now carries both roots.
    expect(ca.server.trustBundle.current()).toMatchObject({ sequence: 2 });
    expect(ca.server.trustBundle.current().roots).toHaveLength(2);

    expect(await report('node-a', 1)).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${ca.server.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^castellan_trust_bundle_sequence 2$/m);
    expect(metrics).toMatch(/^castellan_agents\{state="lagging"\} 1$/m);
    expect(metrics).toMatch(/^castellan_agents\{state="current"\} 0$/m);
    const refused = await cli(['root', 'activate', ...server()]);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/refused: 1 live agent\(s\) do not serve bundle 2.*node-a \[spiffe:\/\/cluster\.local\/ns\/castellan-system\/sa\/castellan-agent\]/);

    expect(await report('node-a', 2)).toBe(0);
    const act = await cli(['root', 'activate', ...server()]);
    expect(act.code, act.err).toBe(0);
    expect(ca.server.activeAuthority.issuer.der.equals((await loadCa(dir)).active.issuer.der)).toBe(true);
    expect(ca.server.trustBundle.current()).toMatchObject({ sequence: 3, activeIssuerKeyId: (await loadCa(dir)).active.issuer.ski.toString('hex'), reissueSpreadSeconds: 1 });

    // The CA's own serving certificate stays under the old root until retire: agents and Istio clients
    // started now still verify the CA with the old bundle.pem they were given.
    const afterActivate = await loadCa(dir);
    const servingIssuer = () => certificatesFromPem(ca.server.servingChain, { code: 'ERR_CERT_FILE', what: 'serving' })[1]!.serialHex;
    expect(servingIssuer()).toBe(afterActivate.authorities[0]!.issuer.serialHex);

    // No leaf was issued under the old root (only the CA's own serving certificate, a lifecycle record).
    const ret = await cli(['root', 'retire', ...server()]);
    expect(ret.code, ret.err).toBe(0);
    expect(ca.server.trustBundle.current().roots.map((r) => r.serialHex)).toEqual([(await loadCa(dir)).active.root.serialHex]);
    // Then it moves to the new root.
    await until(() => servingIssuer() === afterActivate.active.issuer.serialHex, 'the serving certificate under the new root');
  });

  it('fail/a caller outside admin.identities, a missing credential and a report of a bundle never sent are refused', async () => {
    const denied = await cli(['root', 'prepare', ...server('web.token')]);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain("spiffe://cluster.local/ns/shop/sa/web may not administer roots; list it in the CA's admin.identities");
    expect((await loadCa(dir)).authorities).toHaveLength(1);
    expect((await cli(['root', 'prepare', '--server', ca.address, '--ca-bundle', path.join(dir, 'bundle.pem')])).code).toBe(2);
    expect((await cli(['root', 'prepare', '--dir', dir, ...server()])).code).toBe(2);
    const nowhere = await cli(['root', 'status', '--server', '127.0.0.1:1', '--ca-bundle', path.join(dir, 'bundle.pem'), '--token-file', path.join(t.dir, 'admin.token')]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.err).toContain('cannot reach the CA at 127.0.0.1:1');
    expect(await report('node-a', 99)).toBe(3); // INVALID_ARGUMENT
    expect(await report('', 1)).toBe(3);
    // No empty "Resolution note:" from grpc-js in what the operator reads.
    expect(nowhere.err).not.toContain('Resolution note');
  });

  it('ok/rotate-intermediate through the CA: it signs with the new intermediate at once; the step is in the ledger', async () => {
    const before = ca.server.activeAuthority.issuer.serialHex;
    const r = await cli(['root', 'rotate-intermediate', ...server(), '--output', 'json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ step: 'rotate-intermediate', status: { bundleSequence: 2 } });
    const now = await loadCa(dir);
    expect(now.active.id).toBe(2);
    expect(ca.server.activeAuthority.issuer.serialHex).toBe(now.active.issuer.serialHex);
    expect(ca.server.activeAuthority.issuer.serialHex).not.toBe(before);
    const audit = JSON.parse((await cli(['audit', 'list', '--dir', dir, '--output', 'json'])).out) as { event: string | null; details: string | null }[];
    const rec = audit.find((x) => x.event === 'intermediate-rotated');
    expect(JSON.parse(rec!.details!)).toMatchObject({ reason: 'operator (castellan root rotate-intermediate)', authority: 2, previous: 1 });
  });

  it('fail/rotate-intermediate by a caller outside admin.identities: refused, JSON error with the stable code', async () => {
    const denied = await cli(['root', 'rotate-intermediate', ...server('web.token'), '--output', 'json']);
    expect(denied.code).toBe(1);
    expect(denied.out).toBe('');
    expect(JSON.parse(denied.err)).toMatchObject({ error: { code: 'ERR_NOT_ADMIN' } });
    expect((await loadCa(dir)).authorities).toHaveLength(1);
  });
});

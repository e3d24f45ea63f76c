import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, Ledger, type LedgerStore } from '../../../ca/index.js';
import { CaMetrics, CSR_OUTCOMES } from '../../../ca/server/metrics.js';
import { TrustDomain } from '../../../workload-identity/index.js';
import { caClients, unary } from '../../helpers/ca-client.js';
import { cli } from '../../helpers/cli.js';
import { until } from '../../helpers/until.js';
import { testCaServer } from '../../helpers/ca-server.js';
import { testCsr } from '../../helpers/csr.js';
import { parsePrometheusText } from '../../helpers/prometheus-text.js';
import { tempDir } from '../../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
let caDir: string;
let ca: Awaited<ReturnType<typeof testCaServer>>;
const scrape = async () => parsePrometheusText(await (await fetch(`http://127.0.0.1:${ca.server.httpPort}/metrics`)).text());

beforeAll(async () => {
  t = tempDir();
  caDir = path.join(t.dir, 'ca');
  await initCa({ dir: caDir, trustDomain: TrustDomain.of('cluster.local') });
  ca = await testCaServer(caDir, { rotation: { reloadInterval: 100 } }, true);
});
afterAll(async () => {
  await ca?.server.shutdown(100);
  t?.cleanup();
});

describe('CA metrics (docs/observability.md)', () => {
  it('ok/castellan_build_info: version from package.json, the build commit, the Node.js version', async () => {
    const [info, ...more] = (await scrape()).find('castellan_build_info');
    expect(more).toHaveLength(0);
    expect(info!.value).toBe(1);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(info!.labels).toEqual({ version: pkg.version, commit: expect.stringMatching(/^(?:[0-9a-f]{40}(?:-dirty)?|unknown)$/), node_version: process.versions.node });
  });

  it('ok/authority expiry as time stamps: the notAfter of each root and intermediate, consistent with seconds-until', async () => {
    const m = await scrape();
    const dir = await loadCa(caDir);
    for (const a of dir.authorities) {
      for (const [kind, notAfter] of [
        ['root', a.root.notAfter],
        ['intermediate', a.issuer.notAfter],
      ] as const) {
        const at = m.find('castellan_authority_expiry_timestamp_seconds', { authority: String(a.id), kind });
        expect(at.map((s) => s.value)).toEqual([notAfter.getTime() / 1000]);
        const left = m.find('castellan_authority_expiry_seconds', { authority: String(a.id), kind })[0]!.value;
        expect(Math.abs(at[0]!.value - Date.now() / 1000 - left)).toBeLessThan(60);
      }
      expect(m.find('castellan_authority_state', { authority: String(a.id) }).map((s) => [s.labels['state'], s.value])).toEqual([[a.state, 1]]);
    }
  });

  it('ok/serving certificate expiry: the notAfter of the certificate the gRPC port presents', async () => {
    const validTo = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: ca.server.grpcPort, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
        resolve(s.getPeerCertificate().valid_to);
        s.destroy();
      });
      s.on('error', reject);
    });
    const m = await scrape();
    expect(m.find('castellan_serving_certificate_expiry_timestamp_seconds').map((s) => s.value)).toEqual([new Date(validTo).getTime() / 1000]);
    const left = m.find('castellan_serving_certificate_expiry_seconds')[0]!.value;
    expect(left).toBeGreaterThan(23 * 3600);
    expect(left).toBeLessThanOrEqual(24 * 3600 + 60);
  });

  it('ok/labelled counters exist at 0 from the start for every known value; a refusal moves its series from 0 to 1', async () => {
    const before = await scrape();
    for (const api of ['istio', 'castellan']) {
      const outcomes = before.find('castellan_csr_total', { api }).map((s) => s.labels['outcome']);
      expect(new Set(outcomes)).toEqual(new Set(CSR_OUTCOMES));
      for (const o of ['issued', 'ERR_TOKEN_MALFORMED', 'ERR_POLICY_DENIED', 'ERR_TTL_TOO_LONG', 'ERR_LEDGER_UNAVAILABLE']) {
        expect(before.find('castellan_csr_total', { api, outcome: o }).map((s) => s.value)).toEqual([0]);
      }
    }
    expect(before.find('castellan_authentication_failures_total', { reason: 'ERR_TOKEN_MALFORMED' }).map((s) => s.value)).toEqual([0]);
    expect(before.find('castellan_authentication_failures_total').length).toBeGreaterThanOrEqual(15);
    for (const kind of ['commit_failed', 'checkpoint_failed', 'checkpoint_skipped', 'overflow']) {
      expect(before.find('castellan_ledger_errors_total', { kind }).map((s) => s.value)).toEqual([0]);
    }
    expect(before.find('castellan_ledger_broken').map((s) => s.value)).toEqual([0]);

    const bundlePem = (await loadCa(caDir)).bundle.map((c) => c.pem).join('');
    const client = caClients(ca.address, bundlePem);
    try {
      const r = await unary(client.istio, 'CreateCertificate', { csr: (await testCsr()).pem, validityDuration: 3600 }, 'not-a-jwt');
      expect(r.code).toBe(16); // UNAUTHENTICATED
    } finally {
      client.close();
    }
    const after = await scrape();
    expect(after.find('castellan_csr_total', { api: 'istio', outcome: 'ERR_TOKEN_MALFORMED' }).map((s) => s.value)).toEqual([1]);
    expect(after.find('castellan_authentication_failures_total', { reason: 'ERR_TOKEN_MALFORMED' }).map((s) => s.value)).toEqual([1]);
  });

  it('ok/castellan_authority_state follows a root rotation: prepared, then active and retired', async () => {
    expect((await cli(['root', 'prepare', '--dir', caDir])).code).toBe(0);
    const states = async () => Object.fromEntries((await scrape()).find('castellan_authority_state').map((s) => [s.labels['authority'], s.labels['state']]));
    await until(async () => (await states())['2'] === 'prepared', 'the CA reloads its directory', 20_000);
    expect(await states()).toEqual({ '1': 'active', '2': 'prepared' });
    expect((await cli(['root', 'activate', '--dir', caDir, '--force'])).code).toBe(0);
    await until(async () => (await states())['2'] === 'active', 'the CA reloads its directory', 20_000);
    expect(await states()).toEqual({ '1': 'retired', '2': 'active' });
    const m = await scrape();
    expect(m.find('castellan_authority_expiry_timestamp_seconds', { authority: '2', kind: 'root' })).toHaveLength(1);
  });

  it('ok/castellan_ledger_errors_total{kind="commit_failed"} counts failed ledger transactions', async () => {
    const store = {
      kind: 'sqlite',
      location: 'broken-disk.db',
      appendBatch: () => Promise.reject(new Error('SQLITE_FULL: database or disk is full')),
      close: () => Promise.resolve(),
    } as unknown as LedgerStore;
    const ledger = new Ledger({
      store,
      signer: () => {
        throw new Error('no checkpoint expected');
      },
      checkpointIntervalMs: 0,
    });
    const metrics = new CaMetrics(
      () => [],
      () => new Date(),
    );
    metrics.observeLedger(ledger.stats);
    await expect(ledger.append({ type: 'refusal', outcome: 'refused', reason: 'ERR_TOKEN_MALFORMED' })).rejects.toThrow(/disk is full/);
    await expect(ledger.append({ type: 'refusal', outcome: 'refused', reason: 'ERR_TOKEN_MALFORMED' })).rejects.toThrow(/disk is full/);
    const m = parsePrometheusText(await metrics.registry.metrics());
    expect(m.find('castellan_ledger_errors_total', { kind: 'commit_failed' }).map((s) => s.value)).toEqual([2]);
    expect(m.find('castellan_ledger_errors_total', { kind: 'overflow' }).map((s) => s.value)).toEqual([0]);
  });
});

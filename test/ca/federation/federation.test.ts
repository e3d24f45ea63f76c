// SPIFFE federation between two Castellan CAs (docs/federation.md): bundle endpoints with both profiles,
// fetched bundles kept in the CA state across restarts, pushed to agents, and every kind of bad endpoint
// leaving the last good bundle in place. (SPIRE on the other side: test/interop/spire.test.ts.)
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSpiffeBundle, parseSpiffeBundle, TrustDomain } from '../../../workload-identity/index.js';
import { initCa, loadCa, openLedgerStore, ownBundleDocument, startCaServer, STATE_FILE, type CaServerConfig } from '../../../ca/index.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { tempDir } from '../../helpers/test-ca.js';
import { until } from '../../helpers/until.js';
import { fakeBundleEndpoint, webPki, type FakeAnswer } from '../../helpers/web-pki.js';
import { metricValue } from '../../helpers/workload-socket.js';

type Started = Awaited<ReturnType<typeof startCaServer>> & { lines: string[] };

async function start(dir: string, config: CaServerConfig): Promise<Started> {
  const { log, lines } = memoryLog();
  const s = await startCaServer({ dir, config: { listen: '127.0.0.1:0', http: '127.0.0.1:0', rotation: { reloadInterval: 200 }, ...config }, devIssuer: true, log });
  return Object.assign(s, { lines });
}

describe('federation between two Castellan CAs', () => {
  let t: ReturnType<typeof tempDir>;
  let web: ReturnType<typeof webPki>;
  let a: Started;
  let b: Started;
  const dirA = () => path.join(t.dir, 'a');
  const dirB = () => path.join(t.dir, 'b');
  let bEndpoint = '';
  let aEndpoint = '';

  beforeAll(async () => {
    t = tempDir();
    web = webPki(t.dir);
    await initCa({ dir: dirA(), trustDomain: TrustDomain.of('a.test') });
    await initCa({ dir: dirB(), trustDomain: TrustDomain.of('b.test') });
    // B serves its bundle with its own X509-SVID (https_spiffe); A with a web PKI certificate (https_web).
    b = await start(dirB(), { federation: { bundleEndpoint: { listen: '127.0.0.1:0', profile: 'https_spiffe', path: '/bundle' } } });
    bEndpoint = `https://127.0.0.1:${b.bundleEndpoint!.port}/bundle`;
    // A federates with B: the initial bundle authenticates B's self-serving endpoint the first time.
    writeFileSync(path.join(t.dir, 'b-initial.pem'), readFileSync(path.join(dirB(), 'bundle.pem')));
    a = await start(dirA(), {
      federation: {
        bundleEndpoint: { listen: '127.0.0.1:0', profile: 'https_web', certFile: web.certFile, keyFile: web.keyFile },
        trustDomains: [
          {
            trustDomain: 'b.test',
            bundleEndpointUrl: bEndpoint,
            profile: 'https_spiffe',
            endpointSpiffeId: 'spiffe://b.test/castellan/ca',
            initialBundle: path.join(t.dir, 'b-initial.pem'),
            refreshInterval: 60_000,
          },
        ],
      },
    });
    aEndpoint = `https://localhost:${a.bundleEndpoint!.port}/`;
  }, 60_000);
  afterAll(async () => {
    await a?.server.shutdown(100);
    await b?.server.shutdown(100);
    t?.cleanup();
  });

  it('ok/the bundle endpoint serves the SPIFFE bundle: roots, JWT keys, spiffe_sequence = bundle sequence, refresh hint', async () => {
    // An HTTPS client trusting only the private web CA, with the host name `localhost` checked.
    const body = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      request(aEndpoint, { ca: web.caPem }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), text }));
      })
        .on('error', reject)
        .end();
    });
    expect(body.status).toBe(200);
    expect(body.type).toContain('application/json');
    expect(body.text).toBe(ownBundleDocument(a.server.trustBundle.current(), 300));
    const parsed = parseSpiffeBundle(TrustDomain.of('a.test'), body.text);
    expect(parsed.sequence).toBe(a.server.trustBundle.current().sequence);
    expect(parsed.refreshHintSeconds).toBe(300);
    expect(parsed.x509Authorities).toHaveLength(1);
    expect(parsed.jwtAuthorities.map((k) => k.keyId)).toEqual([(await loadCa(dirA())).active.jwtKey!.keyId]);
  });

  it('fail/the bundle endpoint: another path is 404, POST is 405; neither wants client credentials', async () => {
    const ask = (method: string, url: string) =>
      new Promise<number>((resolve, reject) => {
        request(url, { method, ca: web.caPem }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await ask('GET', aEndpoint.replace(/\/$/, '/other'))).toBe(404);
    expect(await ask('POST', aEndpoint)).toBe(405);
    expect(await ask('HEAD', aEndpoint)).toBe(200);
  });

  it('ok/A fetches B over https_spiffe, stores it in its state, records it, and pushes it with a new sequence', async () => {
    await a.federation!.refreshAll();
    await until(() => a.server.trustBundle.current().federated.length === 1, "the federated bundle in A's trust bundle");
    const fb = a.server.trustBundle.current().federated[0]!;
    expect(fb.trustDomain.name).toBe('b.test');
    expect(fb.x509Authorities[0]!.equals((await loadCa(dirB())).bundle[0]!.der)).toBe(true);
    expect(fb.jwtAuthorities.map((k) => k.keyId)).toEqual(b.server.trustBundle.current().jwtAuthorities.map((k) => k.keyId));
    const state = JSON.parse(readFileSync(path.join(dirA(), STATE_FILE), 'utf8')) as { federation: Record<string, { source: string }> };
    expect(state.federation['b.test']!.source).toBe('endpoint');
    const store = await openLedgerStore({ dir: dirA(), readOnly: true });
    try {
      await until(async () => (await store.query({})).some((r) => r.event === 'federated-bundle-updated' && JSON.parse(r.details!).source === 'endpoint'), 'the ledger record');
    } finally {
      await store.close();
    }
    expect(a.federation!.report()![0]).toMatchObject({ trustDomain: 'b.test', failures: 0 });
    expect(await metricValue(a.server.metrics.registry, 'castellan_federation_refresh_total', { trust_domain: 'b.test', outcome: 'ok' })).toBeGreaterThan(0);
  });

  it('ok/B fetches A over https_web with a private web CA', async () => {
    const b2dir = path.join(t.dir, 'b2');
    await initCa({ dir: b2dir, trustDomain: TrustDomain.of('b2.test') });
    const b2 = await start(b2dir, { federation: { trustDomains: [{ trustDomain: 'a.test', bundleEndpointUrl: aEndpoint, profile: 'https_web', caFile: web.caFile }] } });
    try {
      await b2.federation!.refreshAll();
      await until(() => b2.server.trustBundle.current().federated.some((f) => f.trustDomain.name === 'a.test'), 'a.test in b2');
      // Without the private CA the system roots do not know the certificate: a TLS failure, nothing stored.
      const b3dir = path.join(t.dir, 'b3');
      await initCa({ dir: b3dir, trustDomain: TrustDomain.of('b3.test') });
      const b3 = await start(b3dir, { federation: { trustDomains: [{ trustDomain: 'a.test', bundleEndpointUrl: aEndpoint, profile: 'https_web' }] } });
      try {
        await b3.federation!.refreshAll();
        expect(b3.federation!.report()![0]!.lastError?.reason).toBe('tls');
        expect(b3.server.trustBundle.current().federated).toEqual([]);
      } finally {
        await b3.server.shutdown(100);
      }
    } finally {
      await b2.server.shutdown(100);
    }
  });

  it('fail/https_spiffe with the wrong endpoint SPIFFE ID is refused (tls); nothing is stored', async () => {
    const d = path.join(t.dir, 'c');
    await initCa({ dir: d, trustDomain: TrustDomain.of('c.test') });
    const c = await start(d, {
      federation: {
        trustDomains: [
          {
            trustDomain: 'b.test',
            bundleEndpointUrl: bEndpoint,
            profile: 'https_spiffe',
            endpointSpiffeId: 'spiffe://b.test/not-the-endpoint',
            initialBundle: path.join(t.dir, 'b-initial.pem'),
          },
        ],
      },
    });
    try {
      await c.federation!.refreshAll();
      expect(c.federation!.report()![0]!.lastError?.reason).toBe('tls');
      expect(c.federation!.report()![0]!.lastError?.message).toContain('want exactly spiffe://b.test/not-the-endpoint');
      // The initial bundle is stored (source initial); the fetch changed nothing.
      const state = JSON.parse(readFileSync(path.join(d, STATE_FILE), 'utf8')) as { federation: Record<string, { source: string }> };
      expect(state.federation['b.test']!.source).toBe('initial');
    } finally {
      await c.server.shutdown(100);
    }
  });

  it('ok/the stored bundle survives a restart with the endpoint down; then a removed trust domain is dropped', async () => {
    const before = a.server.trustBundle.current().federated.map((f) => f.trustDomain.name);
    expect(before).toEqual(['b.test']);
    await a.server.shutdown(100);
    const down = `https://127.0.0.1:1/bundle`;
    a = await start(dirA(), {
      federation: { trustDomains: [{ trustDomain: 'b.test', bundleEndpointUrl: down, profile: 'https_spiffe', endpointSpiffeId: 'spiffe://b.test/castellan/ca' }] },
    });
    await a.federation!.refreshAll();
    expect(a.federation!.report()![0]!.lastError?.reason).toBe('unreachable');
    expect(a.server.trustBundle.current().federated.map((f) => f.trustDomain.name)).toEqual(['b.test']);
    expect(a.lines.some((l) => l.includes('the last good bundle stays in use'))).toBe(true);
    await a.server.shutdown(100);
    // b.test no longer configured (another trust domain is): its bundle is removed, and recorded.
    a = await start(dirA(), { federation: { trustDomains: [{ trustDomain: 'other.test', bundleEndpointUrl: down, profile: 'https_web' }] } });
    await until(() => a.server.trustBundle.current().federated.length === 0, 'b.test removed');
    const store = await openLedgerStore({ dir: dirA(), readOnly: true });
    try {
      await until(async () => (await store.query({})).some((r) => r.event === 'federated-bundle-removed'), 'the removal in the ledger');
    } finally {
      await store.close();
    }
  });
});

describe('bad federated endpoints leave the last good bundle in place', () => {
  let t: ReturnType<typeof tempDir>;
  let web: ReturnType<typeof webPki>;
  let good: string;
  let other: string;
  let next: FakeAnswer = { status: 200, body: '' };
  let endpoint: Awaited<ReturnType<typeof fakeBundleEndpoint>>;
  let ca: Started;

  beforeAll(async () => {
    t = tempDir();
    web = webPki(t.dir);
    // The "remote" trust domain's bundles are made with our own CA code.
    const remote = await initCa({ dir: path.join(t.dir, 'remote'), trustDomain: TrustDomain.of('remote.test') });
    const stranger = await initCa({ dir: path.join(t.dir, 'stranger'), trustDomain: TrustDomain.of('stranger.test') });
    const doc = (c: typeof remote, sequence: number) =>
      formatSpiffeBundle({
        x509Authorities: c.bundle.map((r) => r.der),
        jwtAuthorities: [{ keyId: c.active.jwtKey!.keyId, publicKey: c.active.jwtKey!.signer.publicKey }],
        sequence,
        refreshHintSeconds: 60,
      });
    good = doc(remote, 10);
    other = doc(stranger, 11);
    endpoint = await fakeBundleEndpoint(web, () => next);
    await initCa({ dir: path.join(t.dir, 'ca'), trustDomain: TrustDomain.of('home.test') });
    ca = await start(path.join(t.dir, 'ca'), {
      federation: { trustDomains: [{ trustDomain: 'remote.test', bundleEndpointUrl: endpoint.url, profile: 'https_web', caFile: web.caFile, refreshInterval: 600_000 }] },
    });
    next = { status: 200, body: good };
    await ca.federation!.refreshAll();
    await until(() => ca.server.trustBundle.current().federated.length === 1, 'the good bundle');
  }, 60_000);
  afterAll(async () => {
    await ca?.server.shutdown(100);
    await endpoint?.close();
    t?.cleanup();
  });

  const cases: [string, () => FakeAnswer, string][] = [
    ['HTTP 503', () => ({ status: 503, body: 'down' }), 'http-status'],
    ['garbage', () => ({ status: 200, body: '<html>oops</html>' }), 'malformed'],
    ['a bundle of another trust domain', () => ({ status: 200, body: other }), 'trust-domain'],
    ['a bundle with no keys', () => ({ status: 200, body: '{"keys":[],"spiffe_sequence":12}' }), 'no-keys'],
    ['a sequence that goes backwards', () => ({ status: 200, body: good.replace('"spiffe_sequence": 10', '"spiffe_sequence": 3') }), 'sequence-backwards'],
    ['a 100 MB body', () => ({ stream: true }), 'too-large'],
    ['an endpoint that never answers', () => ({ hang: true }), 'timeout'],
  ];
  for (const [name, answer, reason] of cases) {
    it(`fail/${name} → ${reason}; the last good bundle stays; logged, counted, reported`, async () => {
      const sequence = ca.server.trustBundle.current().sequence;
      const seen = await metricValue(ca.server.metrics.registry, 'castellan_federation_refresh_total', { trust_domain: 'remote.test', outcome: reason });
      next = answer();
      if (reason === 'timeout') (ca.federation as unknown as { o: { fetchTimeoutMs: number } }).o.fetchTimeoutMs = 1_000;
      await ca.federation!.refreshAll();
      const r = ca.federation!.report()![0]!;
      expect(r.lastError?.reason).toBe(reason);
      expect(r.failures).toBeGreaterThan(0);
      expect(await metricValue(ca.server.metrics.registry, 'castellan_federation_refresh_total', { trust_domain: 'remote.test', outcome: reason })).toBe(seen + 1);
      expect(await metricValue(ca.server.metrics.registry, 'castellan_federation_failing', { trust_domain: 'remote.test' })).toBe(1);
      expect(ca.lines.some((l) => l.includes(`"reason":"${reason}"`) && l.includes('the last good bundle stays in use'))).toBe(true);
      const now = ca.server.trustBundle.current();
      expect(now.sequence).toBe(sequence);
      expect(now.federated[0]!.sequence).toBe(10);
    }, 30_000);
  }

  it('ok/a good answer again clears the failure', async () => {
    next = { status: 200, body: good };
    await ca.federation!.refreshAll();
    expect(ca.federation!.report()![0]).toMatchObject({ failures: 0 });
    expect(ca.federation!.report()![0]!.lastError).toBeUndefined();
    expect(await metricValue(ca.server.metrics.registry, 'castellan_federation_failing', { trust_domain: 'remote.test' })).toBe(0);
  });

  it('fail/a bad initialBundle or an own trust domain fails the start with ERR_CONFIG', async () => {
    writeFileSync(path.join(t.dir, 'bad.json'), '{"keys": "nope"}');
    const cfg = (initialBundle: string, trustDomain = 'remote.test'): CaServerConfig => ({
      federation: { trustDomains: [{ trustDomain, bundleEndpointUrl: endpoint.url, profile: 'https_web', initialBundle }] },
    });
    await initCa({ dir: path.join(t.dir, 'ca3'), trustDomain: TrustDomain.of('home3.test') });
    await expect(start(path.join(t.dir, 'ca3'), cfg(path.join(t.dir, 'bad.json')))).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    await expect(
      start(path.join(t.dir, 'ca3'), { federation: { trustDomains: [{ trustDomain: 'home3.test', bundleEndpointUrl: endpoint.url, profile: 'https_web' }] } }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});

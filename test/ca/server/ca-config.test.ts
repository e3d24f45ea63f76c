import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleConfigMaps, loadCaServerConfig, resolveCaConfig, validateCaServerConfig, type CaServerConfig, type ResolvedCaConfig } from '../../../ca/index.js';
import { loadAgentConfigFile } from '../../../sds/index.js';
import { tempDir } from '../../helpers/test-ca.js';
import { rejectionOf } from '../../helpers/error-code.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir('castellan-ca-config-');
});
afterEach(() => t.cleanup());

function file(name: string, text: string): string {
  const p = path.join(t.dir, name);
  writeFileSync(p, text);
  return p;
}

/** Every default of docs/configuration.md, written out: what a CA without a config file runs with. */
const ALL_DEFAULTS: ResolvedCaConfig = {
  store: {},
  keys: {},
  listen: '127.0.0.1:15012',
  http: '127.0.0.1:15014',
  namespace: 'castellan-system',
  servingDnsNames: ['castellan.castellan-system.svc', 'localhost'],
  servingIpAddresses: [],
  workloadTtlMs: 24 * 3_600_000,
  maxWorkloadTtlMs: 7 * 24 * 3_600_000,
  istioCompat: false,
  authentication: { clientCertificate: true, clientCertificateOnly: false, devIssuer: false },
  policy: {},
  limits: {
    maxRequestBytes: 65_536,
    global: { ratePerSecond: 20_000, burst: 20_000 },
    perIdentity: { ratePerSecond: 200, burst: 2_000 },
    perPeer: { ratePerSecond: 1_000, burst: 2_000 },
    maxWatchers: 10_000,
    maxWatchersPerIdentity: 5_000,
    maxWatchersPerPeer: 256,
    maxWatchersPerIdentityPeer: 8,
    maxAgentsPerIdentity: 10_000,
    maxAgentsPerIdentityPeer: 8,
    maxConnectionsPerPeer: 256,
    handshakeTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    connectionIdleTimeoutMs: 60_000,
    connectionMaxAgeMs: 3_600_000,
    connectionMaxAgeGraceMs: 300_000,
  },
  ledger: { checkpointEvery: 1000, checkpointIntervalMs: 60_000, sqliteSynchronous: 'full', enabled: true },
  shutdownGraceMs: 10_000,
  signingWorkers: 'auto',
  rotation: { intermediateRotateAt: 0.5, reloadIntervalMs: 2_000, agentLivenessMs: 300_000, agentWarmupMs: 30_000 },
  distribution: {},
  jwtSvid: { defaultTtlMs: 300_000, maxTtlMs: 3_600_000, keyPublishLeadMs: 600_000 },
  federation: { trustDomains: [] },
  admin: { identities: [] },
  replicaId: 'ca-0',
};

/** Every value frozen, nested objects and arrays included. */
function deeplyFrozen(v: unknown, at = 'config'): string[] {
  if (v === null || typeof v !== 'object') return [];
  return [...(Object.isFrozen(v) ? [] : [at]), ...Object.entries(v).flatMap(([k, x]) => deeplyFrozen(x, `${at}.${k}`))];
}

describe('resolveCaConfig', () => {
  it('ok/an empty configuration resolves to every default, filled in and frozen', () => {
    const c = resolveCaConfig({}, { hostname: 'ca-0' });
    expect(c).toEqual(ALL_DEFAULTS);
    expect(deeplyFrozen(c)).toEqual([]);
    expect(() => {
      (c.limits as { maxWatchers: number }).maxWatchers = 1;
    }).toThrow(TypeError);
  });

  it('ok/the replica id defaults to the host name', () => {
    expect(resolveCaConfig({}).replicaId).toBe(hostname());
    expect(resolveCaConfig({ replicaId: 'castellan-1' }, { hostname: 'ca-0' }).replicaId).toBe('castellan-1');
  });

  it('ok/given values override their defaults; sections absent from the file stay absent', async () => {
    const p = file(
      'ca.yaml',
      [
        'listen: 0.0.0.0:15012',
        'namespace: mesh',
        'workloadTtl: 1h',
        'limits: { requestTimeout: 2s, perPeer: { ratePerSecond: 5, burst: 10 }, maxAgentsPerIdentityPeer: 2 }',
        'rotation: { intermediateRotateAt: 0.7, reloadInterval: 500ms }',
        'store: { kubernetes: { leaseDuration: 30s, keyType: ec-p384 } }',
        'authentication: { tokenReview: { cacheTtl: 10s }, clientCertificate: false }',
        'ledger: { url: "postgres://db/castellan", checkpointEvery: 50 }',
        'distribution: { configMaps: { enabled: true, additional: [{ name: istio-ca-root-cert }] } }',
        'federation: { bundleEndpoint: { listen: "0.0.0.0:8443", profile: https_spiffe } }',
        '',
      ].join('\n'),
    );
    const c = resolveCaConfig(await loadCaServerConfig(p), { hostname: 'ca-0' });
    expect(c).toEqual({
      ...ALL_DEFAULTS,
      listen: '0.0.0.0:15012',
      namespace: 'mesh',
      // The serving names follow the namespace; the Kubernetes store takes it as its own.
      servingDnsNames: ['castellan.mesh.svc', 'localhost'],
      workloadTtlMs: 3_600_000,
      limits: { ...ALL_DEFAULTS.limits, requestTimeoutMs: 2_000, perPeer: { ratePerSecond: 5, burst: 10 }, maxAgentsPerIdentityPeer: 2 },
      rotation: { ...ALL_DEFAULTS.rotation, intermediateRotateAt: 0.7, reloadIntervalMs: 500 },
      store: {
        kubernetes: {
          namespace: 'mesh',
          secretName: 'castellan-ca',
          leaseName: 'castellan-leader',
          leaseDurationMs: 30_000,
          renewDeadlineMs: 19_800,
          keyType: 'ec-p384',
          rootTtlMs: 10 * 365 * 86_400_000,
          intermediateTtlMs: 365 * 86_400_000,
        },
      },
      authentication: { ...ALL_DEFAULTS.authentication, tokenReview: { audiences: ['castellan'], cacheTtlMs: 10_000 }, clientCertificate: false },
      ledger: { ...ALL_DEFAULTS.ledger, url: 'postgres://db/castellan', checkpointEvery: 50 },
      distribution: {
        configMaps: {
          enabled: true,
          targets: [
            { name: 'castellan-root-cert', key: 'root-cert.pem' },
            { name: 'istio-ca-root-cert', key: 'root-cert.pem' },
          ],
          excludeNamespaces: [],
          resyncIntervalMs: 60_000,
        },
      },
      federation: { bundleEndpoint: { listen: '0.0.0.0:8443', profile: 'https_spiffe', path: '/', refreshHintMs: 300_000 }, trustDomains: [] },
    });
  });

  it('ok/the default lease renews at the LeaderElection default; a given one at 66 % of it', () => {
    expect(resolveCaConfig({ store: { kubernetes: {} } }).store.kubernetes).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000 });
    expect(resolveCaConfig({ store: { kubernetes: { leaseDuration: 15_000 } } }).store.kubernetes).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 9_900 });
    // Without a namespace anywhere the store's is found at start (the pod's, else castellan-system).
    expect(resolveCaConfig({ store: { kubernetes: {} } }).store.kubernetes?.namespace).toBeUndefined();
  });

  it('ok/the caller keeps its own, unfrozen configuration', () => {
    const given: CaServerConfig = { servingDnsNames: ['ca.example'], admin: { identities: ['spiffe://td/admin'] } };
    const c = resolveCaConfig(given, { hostname: 'ca-0' });
    given.servingDnsNames!.push('other.example');
    expect(Object.isFrozen(given.servingDnsNames)).toBe(false);
    expect(c.servingDnsNames).toEqual(['ca.example']);
    expect(c.admin.identities).toEqual(['spiffe://td/admin']);
  });

  it('ok/bundleConfigMaps lists the resolved targets only while enabled', () => {
    const c = validateCaServerConfig({ distribution: { configMaps: { enabled: true, key: 'ca.crt', additional: [{ name: 'istio-ca-root-cert' }] } } });
    expect(bundleConfigMaps(c)).toEqual(resolveCaConfig(c).distribution.configMaps?.targets);
    expect(bundleConfigMaps(c)).toEqual([
      { name: 'castellan-root-cert', key: 'ca.crt' },
      { name: 'istio-ca-root-cert', key: 'root-cert.pem' },
    ]);
    expect(bundleConfigMaps(validateCaServerConfig({ distribution: { configMaps: { enabled: false } } }))).toEqual([]);
  });
});

describe('loadCaServerConfig and loadAgentConfigFile: one reader', () => {
  it("fail/unknown keys and bad types: the validator's ERR_CONFIG, with the file as its source", async () => {
    const raw = { surprise: 1, listen: 'nowhere', limits: { maxWatchers: 'many' } };
    const p = file('bad.json', JSON.stringify(raw));
    const e = await rejectionOf(loadCaServerConfig(p));
    expect(e.code).toBe('ERR_CONFIG');
    let direct: unknown;
    try {
      validateCaServerConfig(raw, `config ${p}`);
    } catch (err) {
      direct = err;
    }
    expect(e.message).toBe((direct as Error).message);
    expect(e.message).toMatch(new RegExp(`^config ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 3 problems:`));
    for (const key of ['listen: want host:port', 'limits.maxWatchers:', '(top level): Unrecognized key']) expect(e.message).toContain(`  ${key}`);
  });

  it('fail/a malformed or unreadable file: the same ERR_CONFIG naming the file (and line) for CA and agent', async () => {
    const bad = file('bad.yaml', 'listen: [\n');
    const ca = await rejectionOf(loadCaServerConfig(bad));
    const agent = await rejectionOf(loadAgentConfigFile(bad));
    expect(ca.code).toBe('ERR_CONFIG');
    expect(agent.code).toBe('ERR_CONFIG');
    expect(ca.message).toBe(agent.message);
    expect(ca.message).toContain(`config: ${bad}:2:1: not valid YAML/JSON`);
    const missing = path.join(t.dir, 'missing.yaml');
    expect((await rejectionOf(loadCaServerConfig(missing))).message).toBe(`config: cannot read ${missing}: ENOENT`);
    expect((await rejectionOf(loadAgentConfigFile(missing))).message).toBe(`config: cannot read ${missing}: ENOENT`);
  });

  it('fail/a top level that is no mapping is refused by both, naming the file', async () => {
    const list = file('list.yaml', '- 1\n- 2\n');
    for (const e of [await rejectionOf(loadCaServerConfig(list)), await rejectionOf(loadAgentConfigFile(list))]) {
      expect(e.code).toBe('ERR_CONFIG');
      expect(e.message).toBe(`config: ${list}: want a mapping of keys at the top level, found a list`);
    }
  });
});

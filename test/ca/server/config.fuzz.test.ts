import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaServerConfig, validateCaServerConfig } from '../../../ca/index.js';
import { configValue, invalidFor, leafPaths, changed, nearValid, yamlText } from '../../helpers/config-fuzz.js';
import { asyncCodeOf } from '../../helpers/error-code.js';
import { asyncOutcomeOf, expectCoded, fuzzParams, outcomeOf } from '../../helpers/fuzz.js';
import { tempDir } from '../../helpers/test-ca.js';

/**
 * Fuzzing of the CA server's configuration loader (ca/server/config.ts, docs/architecture.md §10 in
 * docs/architecture.md): any value a YAML or JSON file can hold, near-valid configurations and damaged
 * YAML text give either a configuration or one ERR_CONFIG error that names each problem by its path.
 */

/** Every field set, each to a value the loader accepts. */
const FULL = {
  trustDomain: 'cluster.local',
  store: {
    kubernetes: {
      namespace: 'castellan-system',
      secretName: 'castellan-ca',
      cacertsSecretName: 'cacerts',
      leaseName: 'castellan-leader',
      leaseDuration: '15s',
      kubeconfig: '/etc/kubeconfig',
      keyType: 'ec-p256',
      rootTtl: '10y',
      intermediateTtl: '1y',
    },
  },
  keys: { pkcs11: { module: '/usr/lib/softhsm/libsofthsm2.so', token: 'castellan', slot: 0, pinFile: '/etc/castellan/pin', pinEnv: 'CASTELLAN_PKCS11_PIN' } },
  listen: '127.0.0.1:15012',
  http: '127.0.0.1:15014',
  namespace: 'castellan-system',
  servingDnsNames: ['castellan.castellan-system.svc', 'localhost'],
  workloadTtl: '24h',
  maxWorkloadTtl: '7d',
  istioCompat: false,
  authentication: {
    jwks: {
      issuer: 'https://kubernetes.default.svc.cluster.local',
      discoveryUrl: 'https://10.96.0.1/.well-known/openid-configuration',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      audiences: ['castellan'],
      requirePodBinding: true,
      kubeconfig: '/etc/kubeconfig',
    },
    clientCertificate: true,
  },
  policy: { allowNamespaces: ['shop'], denyNamespaces: ['kube-system'], denyServiceAccounts: ['shop/admin'] },
  limits: {
    maxRequestBytes: 65536,
    global: { ratePerSecond: 20000, burst: 20000 },
    perIdentity: { ratePerSecond: 200, burst: 2000 },
    perPeer: { ratePerSecond: 1000, burst: 2000 },
    maxWatchers: 10000,
  },
  ledger: { url: 'postgres://castellan@db/ledger', checkpointEvery: 1000, checkpointInterval: '60s', sqliteSynchronous: 'full', enabled: true },
  shutdownGrace: '10s',
  rotation: { intermediateRotateAt: 0.5, intermediateTtl: '365d', reloadInterval: '2s', agentLiveness: '5m', agentWarmup: '30s' },
  distribution: { configMaps: { enabled: true, kubeconfig: '/etc/kubeconfig', excludeNamespaces: ['kube-system'], resyncInterval: '1m' } },
  admin: { identities: ['spiffe://cluster.local/ns/castellan-system/sa/castellan-admin'] },
  replicaId: 'castellan-ca-0',
};

/**
 * The loader's outcome: a configuration, or ERR_CONFIG and nothing else (a hang fails too). A
 * configuration it returns asks for no busy loop and no certificate without a lifetime.
 */
function load(raw: unknown) {
  const out = outcomeOf(() => validateCaServerConfig(raw));
  if (!out.ok) {
    expectCoded(out.error, ['ERR_CONFIG']);
    return out;
  }
  const c = out.value;
  const positive = {
    workloadTtl: c.workloadTtl,
    maxWorkloadTtl: c.maxWorkloadTtl,
    'store.kubernetes.leaseDuration': c.store?.kubernetes?.leaseDuration,
    'store.kubernetes.rootTtl': c.store?.kubernetes?.rootTtl,
    'store.kubernetes.intermediateTtl': c.store?.kubernetes?.intermediateTtl,
    'rotation.intermediateTtl': c.rotation?.intermediateTtl,
    'rotation.reloadInterval': c.rotation?.reloadInterval,
    'rotation.agentLiveness': c.rotation?.agentLiveness,
    'distribution.configMaps.resyncInterval': c.distribution?.configMaps?.resyncInterval,
  };
  // (ledger.checkpointInterval may be 0: the ledger then checkpoints by count only, ca/ledger/ledger.ts.)
  for (const [field, ms] of Object.entries(positive)) if (ms !== undefined) expect(ms, `${field} of ${ms} ms accepted`).toBeGreaterThan(0);
  return out;
}

describe('CA server configuration fuzzing (ca/server/config.ts)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp?.cleanup());

  it('ok/the full configuration is valid (every mutation departs from it)', () => {
    expect(load(FULL).ok).toBe(true);
  });

  it('fail/any JSON value, and any JavaScript value, gives a configuration or ERR_CONFIG', () => {
    const raw = fc.oneof(
      fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown),
      fc.dictionary(fc.constantFrom(...Object.keys(FULL), '__proto__', 'x'), configValue),
      fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true }),
    );
    fc.assert(
      fc.property(raw, (r) => void load(r)),
      fuzzParams(1500),
    );
  });

  it('fail/near-valid configurations: a configuration, or ERR_CONFIG naming a path that was changed', () => {
    fc.assert(
      fc.property(nearValid(FULL), ({ config, touched }) => {
        const out = load(config);
        if (out.ok) return;
        const message = (out.error as Error).message;
        // The cross-field checks name the field they compare (workloadTtl vs maxWorkloadTtl), and the
        // choices of authenticator and ledger name `authentication` and `ledger`.
        expect(touched.some((p) => message.includes(String(p[0]))) || /workloadTtl|authentication|ledger/.test(message), `${JSON.stringify(touched)} → ${message}`).toBe(true);
      }),
      fuzzParams(1500),
    );
  });

  it('fail/several wrong fields: one ERR_CONFIG that lists every one by its path', () => {
    const leaves = leafPaths(FULL);
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...leaves), { minLength: 1, maxLength: 5 }), (paths) => {
        let config: unknown = FULL;
        for (const p of paths) config = changed(config, p, invalidFor(valueAt(FULL, p)));
        const out = load(config);
        expect(out.ok).toBe(false);
        const message = (out as { error: Error }).error.message;
        for (const p of paths) expect(message, `lists ${p.join('.')}`).toContain(`  ${p.join('.')}: `);
        expect(message).toMatch(new RegExp(`^config: ${paths.length} problems?:`));
      }),
      fuzzParams(500),
    );
  });

  it('fail/YAML files: damaged, alias bombs, binary: a configuration or ERR_CONFIG from loadCaServerConfig, never a process warning', async () => {
    const file = path.join(tmp.dir, 'ca.yaml');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await fc.assert(
        fc.asyncProperty(yamlText(FULL), async (text) => {
          warnings.length = 0;
          writeFileSync(file, text);
          const out = await asyncOutcomeOf(loadCaServerConfig(file));
          if (!out.ok) expectCoded(out.error, ['ERR_CONFIG']);
          // process.emitWarning reports on the next tick.
          await new Promise((r) => setImmediate(r));
          expect(
            warnings.map((w) => `${w.name}: ${w.message}`),
            'YAML trouble goes into ERR_CONFIG, not to stderr',
          ).toEqual([]);
        }),
        fuzzParams(400, { caseTimeoutMs: 10_000 }),
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fail/regression: zero for an interval or lifetime (a busy reload or resync loop, leader churn, agents never live, certificates born expired) is ERR_CONFIG', () => {
    for (const [field, config] of [
      ['rotation.reloadInterval', { rotation: { reloadInterval: '0s' } }],
      ['rotation.agentLiveness', { rotation: { agentLiveness: '0ms' } }],
      ['rotation.intermediateTtl', { rotation: { intermediateTtl: '0h' } }],
      ['store.kubernetes.rootTtl', { store: { kubernetes: { rootTtl: '0y' } } }],
      ['store.kubernetes.leaseDuration', { store: { kubernetes: { leaseDuration: '0s' } } }],
      ['distribution.configMaps.resyncInterval', { distribution: { configMaps: { enabled: true, resyncInterval: '0s' } } }],
    ] as const) {
      const out = outcomeOf(() => validateCaServerConfig(config));
      expect(out.ok, field).toBe(false);
      expectCoded((out as { error: unknown }).error, ['ERR_CONFIG']);
      expect((out as { error: Error }).error.message).toContain(`  ${field}: must be longer than 0`);
    }
    expect(validateCaServerConfig({ rotation: { reloadInterval: '1ms' } }).rotation?.reloadInterval).toBe(1);
  });

  it('fail/regression: a YAML tag the parser cannot resolve is ERR_CONFIG, not a warning on stderr and a half-read value', async () => {
    const file = path.join(tmp.dir, 'tagged.yaml');
    writeFileSync(file, 'workloadTtl: !!float 24h\n');
    expect(await asyncCodeOf(loadCaServerConfig(file))).toBe('ERR_CONFIG');
    writeFileSync(file, 'servingDnsNames: !!set {a}\n');
    expect(await asyncCodeOf(loadCaServerConfig(file))).toBe('ERR_CONFIG');
    writeFileSync(file, 'workloadTtl: 24h # a comment\n');
    expect((await loadCaServerConfig(file)).workloadTtl).toBe(86_400_000);
  });
});

function valueAt(root: unknown, p: readonly (string | number)[]): unknown {
  return p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
}

import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CertificateInfo } from '../../../ca/index.js';
import { BundleConfigMapPublisher, type BundleConfigMapPublisherOptions } from '../../../ca/server/bundle-configmaps.js';
import { TrustBundleSource } from '../../../ca/server/trust-bundle-source.js';
import { memoryLog } from '../../helpers/ca-server.js';
import { asyncCodeOf } from '../../helpers/error-code.js';
import { tempDir, testCa } from '../../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../../k8s/api-stand-in.js';

const NAME = 'castellan-root-cert';
const KEY = 'root-cert.pem';

/** Timers the test fires by hand: no sleeping, no wall clock. */
function manualTimers() {
  let id = 0;
  const pending = new Map<number, { fn: () => void; ms: number }>();
  return {
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        pending.set(++id, { fn, ms });
        return id;
      },
      clearTimeout: (h: unknown) => void pending.delete(h as number),
    },
    delays: () => [...pending.values()].map((t) => t.ms),
    fire: () => {
      const due = [...pending.values()];
      pending.clear();
      for (const t of due) t.fn();
    },
  };
}

describe('BundleConfigMapPublisher against the Kubernetes API stand-in', () => {
  let rootsA: readonly CertificateInfo[];
  let rootsB: readonly CertificateInfo[];
  const cleanups: (() => void)[] = [];
  let api: KubernetesApiStandIn;
  let kc: KubeConfig;
  let tmp: ReturnType<typeof tempDir>;
  let publisher: BundleConfigMapPublisher | undefined;
  let source: TrustBundleSource;
  let clock: ReturnType<typeof manualTimers>;
  let logged: ReturnType<typeof memoryLog>;

  beforeAll(async () => {
    const a = await testCa({ trustDomain: 'cluster.local' });
    const b = await testCa({ trustDomain: 'cluster.local' });
    cleanups.push(a.cleanup, b.cleanup);
    rootsA = a.ca.bundle;
    rootsB = b.ca.bundle;
  });
  afterAll(() => cleanups.forEach((c) => c()));

  beforeEach(async () => {
    api = await KubernetesApiStandIn.start();
    for (const ns of ['shop', 'web', 'castellan-system']) api.addNamespace(ns);
    tmp = tempDir();
    const file = path.join(tmp.dir, 'kubeconfig');
    api.writeKubeconfig(file);
    kc = new KubeConfig();
    kc.loadFromFile(file);
    source = new TrustBundleSource(rootsA, 7);
    clock = manualTimers();
    logged = memoryLog();
  });
  afterEach(async () => {
    await publisher?.stop();
    publisher = undefined;
    await api.close();
    tmp.cleanup();
  });

  const make = (o: Partial<BundleConfigMapPublisherOptions> = {}) => {
    publisher = new BundleConfigMapPublisher({ kubeConfig: kc, bundle: source, timers: clock.timers, log: logged.log, ...o });
    return publisher;
  };
  const writes = () => api.requests.filter((r) => r.resource === 'configmaps' && (r.verb === 'create' || r.verb === 'update'));
  const ours = (ns: string) => api.configMap(ns, NAME);

  it('ok/writes the bundle to every namespace, skipping excluded and terminating ones', async () => {
    api.addNamespace('leaving');
    api.terminateNamespace('leaving');
    const p = make({ excludeNamespaces: ['kube-system'] });
    const pass = await p.start();
    const expected = ['castellan-system', 'default', 'kube-node-lease', 'kube-public', 'shop', 'web'];
    expect(pass).toMatchObject({ sequence: 7, namespaces: 6, failed: [], replaced: [] });
    expect([...pass.created].sort()).toEqual(expected);
    for (const ns of expected) {
      const cm = ours(ns)!;
      expect(cm.data).toEqual({ [KEY]: source.current().pem });
      expect(cm.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'castellan' });
      expect(cm.metadata.annotations).toEqual({ 'castellan.io/bundle-sequence': '7' });
    }
    expect(ours('kube-system')).toBeUndefined();
    expect(ours('leaving')).toBeUndefined();
    // The published PEM is the real root.
    expect(new X509Certificate(ours('shop')!.data![KEY]!).fingerprint256).toBe(new X509Certificate(rootsA[0]!.pem).fingerprint256);
    expect(p.stats).toMatchObject({ passes: 1, namespacesWritten: 6, failures: 0, lastPassSequence: 7, lastSyncedSequence: 7 });
    await p.synced(7);
    // One cluster-wide list of our ConfigMaps instead of a GET per namespace.
    expect(api.requests.filter((r) => r.verb === 'get')).toHaveLength(0);
    expect(clock.delays()).toEqual([60_000]);
  });

  it('ok/a bundle change updates every namespace and the sequence annotation follows', async () => {
    const p = make();
    await p.start();
    const next = source.update([...rootsA, ...rootsB]);
    expect(next.sequence).toBe(8);
    await p.synced(8);
    for (const ns of api.namespaceNames()) {
      const cm = ours(ns)!;
      expect(cm.data).toEqual({ [KEY]: rootsA[0]!.pem + rootsB[0]!.pem });
      expect(cm.metadata.annotations?.['castellan.io/bundle-sequence']).toBe('8');
    }
    expect(p.stats.lastPass?.replaced).toHaveLength(api.namespaceNames().length);
    expect(p.stats.passes).toBe(2);
  });

  it('ok/a namespace created later is picked up by the resync timer', async () => {
    const p = make({ resyncMs: 30_000 });
    await p.start();
    api.addNamespace('late');
    expect(ours('late')).toBeUndefined();
    expect(clock.delays()).toEqual([30_000]);
    clock.fire();
    await p.idle();
    expect(ours('late')?.data).toEqual({ [KEY]: source.current().pem });
    expect(p.stats.lastPass?.created).toEqual(['late']);
  });

  it('ok/no write when every ConfigMap already holds the bundle', async () => {
    const p = make();
    await p.start();
    const before = writes().length;
    const pass = await p.resync();
    expect(writes().length).toBe(before);
    expect(pass).toMatchObject({ created: [], replaced: [], unchanged: api.namespaceNames().length });
    // A second publisher (another replica) finds nothing to do either.
    const other = new BundleConfigMapPublisher({ kubeConfig: kc, bundle: source, timers: manualTimers().timers, log: logged.log });
    expect((await other.resync()).unchanged).toBe(api.namespaceNames().length);
    await other.stop();
    expect(writes().length).toBe(before);
  });

  it('ok/a ConfigMap of ours whose content drifted is put back', async () => {
    const p = make();
    await p.start();
    api.putConfigMap('web', { metadata: { name: NAME, labels: { 'app.kubernetes.io/managed-by': 'castellan', extra: 'kept' } }, data: { [KEY]: 'edited', other: 'x' } });
    const pass = await p.resync();
    expect(pass.replaced).toEqual(['web']);
    expect(ours('web')!.data).toEqual({ [KEY]: source.current().pem });
    expect(ours('web')!.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'castellan', extra: 'kept' });
  });

  it('fail/403 in one namespace does not stop the others and is retried', async () => {
    const allow = api.deny({ resource: 'configmaps', namespace: 'shop', verbs: ['create', 'update'] });
    const p = make({ retryMs: 2_000 });
    const synced = p.synced(7);
    const pass = await p.start();
    expect(pass.failed).toEqual(['shop']);
    expect(pass.created).toHaveLength(api.namespaceNames().length - 1);
    expect(ours('shop')).toBeUndefined();
    expect(p.stats).toMatchObject({ failures: 1, lastPassSequence: 7, lastSyncedSequence: 0 });
    const warning = logged.lines.map((l) => JSON.parse(l)).find((l) => l.namespace === 'shop');
    expect(warning).toMatchObject({ status: 403, reason: 'Forbidden' });
    // Retried sooner than the resync, backing off while it keeps failing.
    expect(clock.delays()).toEqual([2_000]);
    clock.fire();
    await p.idle();
    expect(p.stats.failures).toBe(2);
    expect(clock.delays()).toEqual([4_000]);
    allow();
    clock.fire();
    await p.idle();
    await synced;
    expect(ours('shop')?.data).toEqual({ [KEY]: source.current().pem });
    expect(p.stats.lastPass?.created).toEqual(['shop']);
    expect(clock.delays()).toEqual([60_000]);
  });

  it('fail/a 5xx or a failed namespace listing is retried at the next pass', async () => {
    let failing = true;
    api.onRequest((r) =>
      failing && r.resource === 'namespaces' ? { code: 503, reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request' } : undefined,
    );
    const p = make();
    expect((await p.start()).failed).toEqual(['*']);
    expect(logged.lines.join('')).toContain('cannot list namespaces');
    failing = false;
    const undo = api.onRequest((r) =>
      r.namespace === 'web' && r.verb === 'create' ? { code: 500, reason: 'InternalError', message: 'etcdserver: request timed out' } : undefined,
    );
    expect((await p.resync()).failed).toEqual(['web']);
    undo();
    expect((await p.resync()).created).toEqual(['web']);
    await p.synced(7);
  });

  it('fail/a foreign ConfigMap of the same name is left alone and warned about once', async () => {
    api.putConfigMap('web', { metadata: { name: NAME }, data: { [KEY]: 'somebody else' } });
    const p = make();
    const first = await p.start();
    expect(first.foreign).toEqual(['web']);
    expect(first.failed).toEqual([]);
    await p.resync();
    expect(ours('web')!.data).toEqual({ [KEY]: 'somebody else' });
    expect(ours('web')!.metadata.labels).toBeUndefined();
    expect(p.stats.foreignNamespaces).toBe(1);
    const warnings = logged.lines.filter((l) => l.includes('not managed by castellan'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ namespace: 'web', level: 40 });
    await p.synced(7); // foreign is not a failure
  });

  it('ok/a 409 Conflict (another writer between read and write) is re-read and retried', async () => {
    const p = make();
    await p.start();
    let raced = 0;
    api.onRequest((r) => {
      if (r.verb === 'update' && r.namespace === 'shop' && raced++ === 0) {
        // Another replica rewrites the ConfigMap (still ours) after our list: our PUT is now stale.
        api.putConfigMap('shop', {
          metadata: { name: NAME, labels: { 'app.kubernetes.io/managed-by': 'castellan' }, annotations: { 'castellan.io/bundle-sequence': '7' } },
          data: { [KEY]: 'stale' },
        });
      }
    });
    source.update([...rootsB]);
    await p.synced(8);
    expect(p.stats.lastPass).toMatchObject({ failed: [], conflicts: 1 });
    expect(p.stats.conflicts).toBe(1);
    expect(ours('shop')!.data).toEqual({ [KEY]: rootsB[0]!.pem });
    expect(ours('shop')!.metadata.annotations?.['castellan.io/bundle-sequence']).toBe('8');
  });

  it('ok/409 AlreadyExists (another replica created it first) is re-read', async () => {
    let raced = 0;
    api.onRequest((r) => {
      if (r.verb === 'create' && r.namespace === 'web' && raced++ === 0) {
        api.putConfigMap('web', {
          metadata: { name: NAME, labels: { 'app.kubernetes.io/managed-by': 'castellan' }, annotations: { 'castellan.io/bundle-sequence': '6' } },
          data: { [KEY]: 'older' },
        });
      }
    });
    const p = make();
    const pass = await p.start();
    expect(pass).toMatchObject({ failed: [], conflicts: 1, replaced: ['web'] });
    expect(ours('web')!.data).toEqual({ [KEY]: source.current().pem });
  });

  it('ok/a ConfigMap another replica wrote from a newer bundle is not moved backwards', async () => {
    api.putConfigMap('shop', {
      metadata: { name: NAME, labels: { 'app.kubernetes.io/managed-by': 'castellan' }, annotations: { 'castellan.io/bundle-sequence': '9' } },
      data: { [KEY]: 'newer' },
    });
    const p = make();
    const pass = await p.start();
    expect(pass.newer).toEqual(['shop']);
    expect(ours('shop')!.data).toEqual({ [KEY]: 'newer' });
  });

  it('ok/without list permission on configmaps each namespace is read instead', async () => {
    api.deny({ resource: 'configmaps', verbs: ['list'] });
    api.putConfigMap('web', { metadata: { name: NAME, labels: { 'app.kubernetes.io/managed-by': 'castellan' } }, data: { [KEY]: 'old' } });
    const p = make();
    const pass = await p.start();
    expect(pass.failed).toEqual([]);
    expect(pass.replaced).toEqual(['web']);
    expect(api.requests.filter((r) => r.verb === 'get' && r.resource === 'configmaps')).toHaveLength(api.namespaceNames().length);
    await p.resync();
    expect(logged.lines.filter((l) => l.includes('reading each namespace instead'))).toHaveLength(1);
  });

  it('ok/changes during a pass are coalesced into exactly one more pass, never concurrent', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inPass = new Promise<void>((r) => (entered = r));
    let listing = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    api.onRequest(async (r) => {
      if (r.resource !== 'namespaces') return;
      listing++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (listing === 1) {
        entered();
        await gate;
      }
      concurrent--;
    });
    const p = make();
    const first = p.start();
    await inPass;
    source.update([...rootsA, ...rootsB]);
    source.update([...rootsB]);
    const third = p.resync();
    release();
    expect((await first).sequence).toBe(7);
    const last = await third;
    await p.idle();
    expect(last.sequence).toBe(9);
    expect(listing).toBe(2);
    expect(maxConcurrent).toBe(1);
    expect(p.stats.passes).toBe(2);
    expect(ours('shop')!.data).toEqual({ [KEY]: rootsB[0]!.pem });
  });

  it('ok/stop() aborts in-flight requests and ends timers and the subscription', async () => {
    let entered!: () => void;
    const inRequest = new Promise<void>((r) => (entered = r));
    api.onRequest((r) => {
      if (r.verb === 'create') {
        entered();
        return new Promise<void>(() => undefined); // the API server never answers
      }
      return undefined;
    });
    const p = make();
    const outcome = asyncCodeOf(p.synced(7));
    void p.start();
    await inRequest;
    await p.stop();
    expect(await outcome).toBe('ERR_BUNDLE_PUBLISHER_STOPPED');
    expect(source.subscriberCount).toBe(0);
    expect(clock.delays()).toEqual([]);
    expect(p.stats.lastPass?.created ?? []).toEqual([]);
  });

  it('fail/a KubeConfig without a cluster is a TypeError', () => {
    expect(() => new BundleConfigMapPublisher({ kubeConfig: new KubeConfig(), bundle: source, log: logged.log })).toThrow(TypeError);
  });
});

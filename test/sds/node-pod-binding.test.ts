import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initCa, loadCa } from '../../ca/index.js';
import { startAgent, type Agent } from '../../sds/agent.js';
import { SdsClient, type SdsIdentity } from '../../sds/index.js';
import { TrustDomain } from '../../workload-identity/index.js';
import { memoryLog, testCaServer } from '../helpers/ca-server.js';
import { tempDir } from '../helpers/test-ca.js';
import { KubernetesApiStandIn } from '../k8s/api-stand-in.js';
import { FAST_CHANNEL } from '../helpers/agent-fixture.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

// Node mode against a CA that requires pod binding (JWKS authentication; pods looked up in the
// Kubernetes API stand-in): once a pod is deleted, the CA refuses its token, and the node agent must not
// keep handing that pod's identity, or its key, to anyone presenting the token.
const CART = 'spiffe://cluster.local/ns/shop/sa/cart';
const UNAUTHENTICATED = 16;

let t: ReturnType<typeof tempDir>;
let api: KubernetesApiStandIn;
let ca: Awaited<ReturnType<typeof testCaServer>>;
let bundlePem: string;
let agent: Agent | undefined;
const clients: SdsClient[] = [];

beforeEach(async () => {
  t = tempDir('castellan-podbinding-');
  api = await KubernetesApiStandIn.start();
  const dir = path.join(t.dir, 'ca');
  await initCa({ dir, trustDomain: TrustDomain.of('cluster.local') });
  bundlePem = (await loadCa(dir)).bundle.map((c) => c.pem).join('');
  writeFileSync(path.join(t.dir, 'api-ca.pem'), api.caPem);
  writeFileSync(path.join(t.dir, 'discovery-token'), api.caToken);
  api.writeKubeconfig(path.join(t.dir, 'kubeconfig'));
  ca = await testCaServer(dir, {
    authentication: {
      jwks: {
        issuer: api.issuer,
        discoveryUrl: `${api.url}/.well-known/openid-configuration`,
        caFile: path.join(t.dir, 'api-ca.pem'),
        bearerTokenFile: path.join(t.dir, 'discovery-token'),
        requirePodBinding: true,
        kubeconfig: path.join(t.dir, 'kubeconfig'),
      },
    },
  });
  api.addPod({ namespace: 'shop', name: 'cart-0', serviceAccount: 'cart' });
  api.addPod({ namespace: 'shop', name: 'cart-1', serviceAccount: 'cart' });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await agent?.close();
  agent = undefined;
  await ca.server.shutdown(100);
  await api.close();
  t.cleanup();
});

const podToken = (pod: string, ttlSeconds = 3600) => api.mintToken({ namespace: 'shop', serviceAccount: 'cart', audiences: ['castellan'], pod: { name: pod }, ttlSeconds });
/** How often the CA looked up pod `name` (once per authentication of a token bound to it). */
const podLookups = (name = 'cart-0') => api.requests.filter((r) => r.resource === 'pods' && r.verb === 'get' && r.name === name).length;

async function nodeAgent(clock: ManualClock) {
  // The agent's own token (its DaemonSet pod) for its trust-bundle stream and reports.
  api.addPod({ namespace: 'castellan-system', name: 'agent-0', serviceAccount: 'castellan-agent' });
  const tokenFile = path.join(t.dir, 'agent-token');
  writeFileSync(tokenFile, await api.mintToken({ namespace: 'castellan-system', serviceAccount: 'castellan-agent', audiences: ['castellan'], pod: { name: 'agent-0' } }), {
    mode: 0o600,
  });
  agent = await startAgent({
    caAddress: ca.address,
    caBundlePem: bundlePem,
    mode: 'node',
    tokenFile,
    ttlMs: 3_600_000,
    clock,
    renewal: { fraction: 0.5, jitter: 0 },
    socketPath: path.join(t.dir, 'sds.sock'),
    log: memoryLog().log,
    caChannelOptions: FAST_CHANNEL,
  });
  return agent;
}

/** An Envoy-like SDS client that records every identity it is sent and every error it gets. */
function client(token: string) {
  const c = new SdsClient({ socketPath: path.join(t.dir, 'sds.sock'), token, reconnectDelayMs: 600_000 });
  clients.push(c);
  const seen: SdsIdentity[] = [];
  const errors: (Error & { code?: number })[] = [];
  c.on('identity', (i) => seen.push(i));
  c.on('error', (e) => errors.push(e));
  return { c, seen, errors };
}

/** The first of: an identity sent to `x`, or an error; never waits past `limitMs`. */
async function firstAnswer(x: ReturnType<typeof client>, limitMs = 10_000): Promise<'identity' | number | 'nothing'> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (x.seen.length > 0) return 'identity';
    if (x.errors.length > 0) return x.errors[0]!.code ?? -1;
    await new Promise((r) => setTimeout(r, 5));
  }
  return 'nothing';
}

describe('node mode with pod binding', () => {
  it("fail/a new stream with a deleted pod's token gets UNAUTHENTICATED, not the identity; its open stream ends and the key is dropped", async () => {
    const clock = new ManualClock();
    const a = await nodeAgent(clock);
    const token = await podToken('cart-0');
    const first = client(token);
    expect(await firstAnswer(first)).toBe('identity');
    expect(a.certificates().map((c) => c.id.toString())).toEqual([CART]);

    api.deletePod('shop', 'cart-0');
    clock.advance(1_001); // past the agent's recheck window: the next stream's token is asked about again
    const second = client(token);
    expect(await firstAnswer(second)).toBe(UNAUTHENTICATED);
    expect(second.seen).toEqual([]);
    expect(second.errors[0]!.message).toMatch(/pod/);
    // The stream opened while the pod lived ends with the same refusal; nothing keeps the key.
    await until(() => first.errors.length > 0, 'the open stream to end');
    expect(first.errors[0]!.code).toBe(UNAUTHENTICATED);
    expect(first.seen).toHaveLength(1);
    expect(a.certificates()).toEqual([]);
  });

  it("fail/a renewal the CA refuses for a deleted pod's token ends its streams and drops the key and certificate", async () => {
    const clock = new ManualClock();
    const a = await nodeAgent(clock);
    const s = client(await podToken('cart-0'));
    expect(await firstAnswer(s)).toBe('identity');
    api.deletePod('shop', 'cart-0');
    clock.fireNext((p) => p.ms > 1_000_000); // the renewal at half the lifetime
    await until(() => s.errors.length > 0, 'the stream to end');
    expect(s.errors[0]!.code).toBe(UNAUTHENTICATED);
    expect(s.seen).toHaveLength(1);
    expect(a.certificates()).toEqual([]);
  });

  const sharing: [string, number, number][] = [
    ["the deleted pod's token would have signed the renewal", 3600, 3000],
    ["the other pod's token signs the renewal", 3000, 3600],
  ];
  for (const [what, deletedTtl, otherTtl] of sharing) {
    it(`ok/another pod of the same service account keeps the identity and gets the renewed key; the deleted pod's stream does not (${what})`, async () => {
      const clock = new ManualClock();
      const a = await nodeAgent(clock);
      const gone = client(await podToken('cart-0', deletedTtl));
      expect(await firstAnswer(gone)).toBe('identity');
      const stays = client(await podToken('cart-1', otherTtl));
      expect(await firstAnswer(stays)).toBe('identity');
      expect(stays.seen[0]!.privateKeyPem).toBe(gone.seen[0]!.privateKeyPem); // one key per identity
      api.deletePod('shop', 'cart-0');
      clock.fireNext((p) => p.ms > 1_000_000);
      await until(() => stays.seen.length === 2, "the renewed certificate on the remaining pod's stream");
      expect(stays.seen[1]!.privateKeyPem).not.toBe(stays.seen[0]!.privateKeyPem);
      await until(() => gone.errors.length > 0, "the deleted pod's stream to end");
      expect(gone.errors[0]!.code).toBe(UNAUTHENTICATED);
      expect(gone.seen).toHaveLength(1);
      expect(stays.errors).toEqual([]);
      expect(a.certificates().map((c) => c.id.toString())).toEqual([CART]);
    });
  }

  it('ok/streams opened within the recheck window share one CA check; a stream after it is checked again', async () => {
    const clock = new ManualClock();
    await nodeAgent(clock);
    const token = await podToken('cart-0');
    const before = podLookups();
    const one = client(token);
    const two = client(token);
    expect([await firstAnswer(one), await firstAnswer(two)]).toEqual(['identity', 'identity']);
    // One Authenticate and one Sign (which authenticates again): two pod lookups by the CA.
    expect(podLookups() - before).toBe(2);
    clock.advance(1_001);
    const three = client(token);
    expect(await firstAnswer(three)).toBe('identity');
    expect(podLookups() - before).toBe(3);
  });
});

import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RESOURCE_NAMES, SECRET_TYPE_URL } from '../../sds/index.js';
import type { DeltaResponse } from '../helpers/envoy-sds-client.js';
import { metricValue, testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;
const names = (r: DeltaResponse) => r.resources.map((x) => x.name);
const versions = (r: DeltaResponse) => Object.fromEntries(r.resources.map((x) => [x.name, x.version]));

describe('SDS DeltaSecrets (incremental)', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('ok/subscribe → resources with per-resource versions; subscribing more sends only the new one', async () => {
    const d = env.client.delta();
    d.request({ subscribe: ['default'] });
    const r1 = await d.next();
    expect(r1.typeUrl).toBe(SECRET_TYPE_URL);
    expect(names(r1)).toEqual(['default']);
    expect(r1.resources[0]!.version).toMatch(/^[0-9a-f]{16}$/);
    expect(r1.resources[0]!.resource.tlsCertificate!.certificateChain.inlineBytes.toString()).toBe(env.provider.snapshot().svid.chainPem);
    d.ack(r1);
    d.request({ subscribe: ['ROOTCA'], nonce: r1.nonce });
    const r2 = await d.next();
    expect(names(r2)).toEqual(['ROOTCA']);
    expect(r2.removedResources).toEqual([]);
    expect(r2.nonce).not.toBe(r1.nonce);
    d.close();
  });

  it('ok/unsubscribe → removed_resources; a rotation then sends nothing for it', async () => {
    const d = env.client.delta();
    d.request({ subscribe: ['default', 'ROOTCA'] });
    const r1 = await d.next();
    expect(names(r1).sort()).toEqual(['ROOTCA', 'default']);
    d.ack(r1);
    d.request({ unsubscribe: ['default'], nonce: r1.nonce });
    const r2 = await d.next();
    expect(r2.resources).toEqual([]);
    expect(r2.removedResources).toEqual(['default']);
    d.ack(r2);
    // The leaf is no longer subscribed: a rotation is not pushed; the bundle change that follows is.
    await env.provider.rotate();
    const bundle = await env.provider.changeBundle();
    const r3 = await d.next();
    expect(names(r3)).toEqual(['ROOTCA']);
    expect(r3.resources[0]!.resource.validationContext!.trustedCa!.inlineBytes.toString()).toBe(bundle.rootsPem);
    d.close();
  });

  it('ok/reconnect with initial_resource_versions: unchanged resources are not resent, changed ones are', async () => {
    const d = env.client.delta();
    d.request({ subscribe: ['default', 'ROOTCA'] });
    const r1 = await d.next();
    d.ack(r1);
    d.close();
    const held = versions(r1);

    // Same content on the server: nothing to send for these two; a third name proves the stream answers.
    const again = env.client.delta();
    again.request({ subscribe: ['default', 'ROOTCA', 'spiffe://cluster.local'], initialVersions: held });
    const r2 = await again.next();
    expect(names(r2)).toEqual(['spiffe://cluster.local']);
    again.close();

    // The leaf rotated while disconnected: only default comes back.
    await env.provider.rotate();
    const third = env.client.delta();
    third.request({ subscribe: ['default', 'ROOTCA'], initialVersions: held });
    const r3 = await third.next();
    expect(names(r3)).toEqual(['default']);
    expect(r3.resources[0]!.version).not.toBe(held['default']);
    third.close();
  });

  it('ok/unknown names get no answer (Envoy keeps waiting, as over SotW); only held resources are ever removed', async () => {
    const d = env.client.delta();
    d.request({ subscribe: ['nope'] });
    // Requests are handled in order: had 'nope' been answered, that answer would come first.
    d.request({ subscribe: ['default'] });
    const r1 = await d.next();
    expect(names(r1)).toEqual(['default']);
    expect(r1.removedResources).toEqual([]);
    d.ack(r1);
    await env.provider.rotate();
    const r2 = await d.next();
    expect(names(r2)).toEqual(['default']);
    expect(r2.removedResources).toEqual([]);
    d.request({ unsubscribe: ['nope', 'default'] });
    const r3 = await d.next();
    expect(r3.removedResources).toEqual(['default']);
    d.close();
  });

  it('fail/more subscribed names per stream than MAX_RESOURCE_NAMES → INVALID_ARGUMENT', async () => {
    const d = env.client.delta();
    const batch = (from: number) => Array.from({ length: MAX_RESOURCE_NAMES }, (_, i) => `name-${from + i}`);
    d.request({ subscribe: batch(0) });
    d.request({ subscribe: batch(MAX_RESOURCE_NAMES) });
    const ended = await d.inbox.ended;
    expect(ended.code).toBe(status.INVALID_ARGUMENT);
    expect(ended.details).toMatch(/at most 64 resource names/);
  });

  it('ok/NACK is counted and logged; the rejected version is not resent', async () => {
    const d = env.client.delta();
    d.request({ subscribe: ['default'] });
    const r1 = await d.next();
    d.request({ nonce: r1.nonce, error: 'cannot load key' });
    d.request({ subscribe: ['ROOTCA'], nonce: r1.nonce });
    const r2 = await d.next();
    expect(names(r2)).toEqual(['ROOTCA']);
    expect(await metricValue(env.registry, 'castellan_sds_nacks_total', { api: 'sds_delta' })).toBe(1);
    expect(env.lines.some((l) => l.includes('NACK') && l.includes('cannot load key') && l.includes('envoy-test-node'))).toBe(true);
    d.close();
  });

  it('ok/empty first subscription is a wildcard', async () => {
    const d = env.client.delta();
    d.request({});
    const r1 = await d.next();
    expect(names(r1)).toEqual(['default', 'ROOTCA', 'ALL', 'spiffe://cluster.local']);
    d.close();
  });

  it('fail/unknown type URL → INVALID_ARGUMENT', async () => {
    const d = env.client.delta();
    d.request({ subscribe: ['default'], typeUrl: 'type.googleapis.com/envoy.config.listener.v3.Listener' });
    expect((await d.inbox.ended).code).toBe(status.INVALID_ARGUMENT);
  });
});

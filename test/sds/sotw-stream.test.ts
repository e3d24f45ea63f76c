import { X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SECRET_TYPE_URL } from '../../sds/index.js';
import { namesOf, type SotwResponse } from '../helpers/envoy-sds-client.js';
import { metricValue, testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;

const secretOf = (res: SotwResponse, name: string) => res.resources.find((r) => r.name === name)!;
const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');
const leafSerial = (res: SotwResponse) => norm(new X509Certificate(secretOf(res, 'default').tlsCertificate!.certificateChain.inlineBytes).serialNumber);

describe('SDS StreamSecrets (state of the world)', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('ok/request → response with default and ROOTCA, leaf chains to the bundle', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default', 'ROOTCA'] });
    const res = await s.next();
    expect(res.typeUrl).toBe(SECRET_TYPE_URL);
    expect(res.nonce).not.toBe('');
    expect(res.versionInfo).not.toBe('');
    expect(namesOf(res)).toEqual(['default', 'ROOTCA']);
    const def = secretOf(res, 'default');
    expect(def['@type']).toBe(SECRET_TYPE_URL);
    const svid = env.provider.snapshot().svid;
    expect(def.tlsCertificate!.certificateChain.inlineBytes.toString()).toBe(svid.chainPem);
    expect(def.tlsCertificate!.privateKey.inlineBytes.toString()).toBe(svid.keyPem);
    expect(secretOf(res, 'ROOTCA').validationContext!.trustedCa!.inlineBytes.toString()).toBe(env.provider.bundle.rootsPem);
    const leaf = new X509Certificate(svid.chain[0]!);
    const mid = new X509Certificate(svid.chain[1]!);
    const root = new X509Certificate(env.provider.bundle.roots[0]!);
    expect(leaf.verify(mid.publicKey) && mid.verify(root.publicKey)).toBe(true);
    expect(env.lines.some((l) => l.includes('"node":"envoy-test-node"') && l.includes('stream opened'))).toBe(true);
    s.close();
  });

  it('ok/ACK causes no resend; the next response is the rotation', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'] });
    const first = await s.next();
    s.ack(first);
    // A stream's requests are handled in order: had the ACK caused a resend, it would arrive before the
    // answer to this subscription change.
    s.request({ names: ['default', 'ROOTCA'], versionInfo: first.versionInfo, nonce: first.nonce });
    const second = await s.next();
    expect(namesOf(second)).toEqual(['default', 'ROOTCA']);
    s.ack(second);
    const rotated = await env.provider.rotate();
    const third = await s.next();
    expect(leafSerial(third)).toBe(norm(rotated.serialHex));
    expect(new Set([first.nonce, second.nonce, third.nonce]).size).toBe(3);
    expect(new Set([first.versionInfo, second.versionInfo, third.versionInfo]).size).toBe(3);
    s.close();
  });

  it('ok/NACK is logged with the node id and counted, the stream stays up, no resend of the version', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'] });
    const first = await s.next();
    s.ack(first);
    await env.provider.rotate();
    const second = await s.next();
    s.nack(second, first.versionInfo, 'bad key');
    // Subscription change after the NACK: the response must be exactly the new set, with no replay before it.
    s.request({ names: ['default', 'ROOTCA'], versionInfo: first.versionInfo, nonce: second.nonce });
    const third = await s.next();
    expect(namesOf(third)).toEqual(['default', 'ROOTCA']);
    expect(await metricValue(env.registry, 'castellan_sds_nacks_total', { api: 'sds_sotw' })).toBe(1);
    const nackLine = env.lines.find((l) => l.includes('NACK'))!;
    expect(JSON.parse(nackLine)).toMatchObject({ node: 'envoy-test-node', error: 'bad key', nonce: second.nonce });
    s.close();
  });

  it('ok/stale nonce is ignored: its subscription change produces nothing', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'] });
    const first = await s.next();
    s.ack(first);
    await env.provider.rotate();
    const second = await s.next();
    // A request still carrying the first nonce: stale, so its new names do not count.
    s.request({ names: ['default', 'ROOTCA'], versionInfo: first.versionInfo, nonce: first.nonce });
    // Then the ACK of the latest response changes the names: the answer has exactly them. Had the stale
    // request counted, a response with ROOTCA would have come first.
    s.ack(second, ['default', 'spiffe://cluster.local']);
    const third = await s.next();
    expect(namesOf(third)).toEqual(['default', 'spiffe://cluster.local']);
    s.close();
  });

  it('ok/reconnect gets a fresh version and nonce with the same secret', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'] });
    const first = await s.next();
    s.ack(first);
    s.close();
    const again = env.client.sotw();
    again.request({ names: ['default'], versionInfo: first.versionInfo });
    const res = await again.next();
    expect(res.nonce).not.toBe(first.nonce);
    expect(res.versionInfo).not.toBe(first.versionInfo);
    expect(leafSerial(res)).toBe(leafSerial(first));
    again.close();
  });

  it('ok/bundle change pushes ROOTCA first (old leaf), then the new leaf', async () => {
    const s = env.client.sotw();
    s.request({ names: ['ROOTCA', 'default'] });
    const first = await s.next();
    s.ack(first);
    const oldLeaf = secretOf(first, 'default').tlsCertificate!.certificateChain.inlineBytes.toString();
    const onlyRoot = env.newClient().sotw();
    onlyRoot.request({ names: ['ROOTCA'] });
    const r0 = await onlyRoot.next();
    onlyRoot.ack(r0);
    const bundle = await env.provider.changeBundle();
    const bundlePush = await s.next();
    expect(secretOf(bundlePush, 'ROOTCA').validationContext!.trustedCa!.inlineBytes.toString()).toBe(bundle.rootsPem);
    expect(secretOf(bundlePush, 'default').tlsCertificate!.certificateChain.inlineBytes.toString()).toBe(oldLeaf);
    s.ack(bundlePush);
    const leafPush = await s.next();
    expect(secretOf(leafPush, 'default').tlsCertificate!.certificateChain.inlineBytes.toString()).toBe(env.provider.snapshot().svid.chainPem);
    // A stream subscribed to ROOTCA only sees the bundle change, once.
    const r1 = await onlyRoot.next();
    expect(namesOf(r1)).toEqual(['ROOTCA']);
    expect(secretOf(r1, 'ROOTCA').validationContext!.trustedCa!.inlineBytes.toString()).toBe(bundle.rootsPem);
    s.close();
    onlyRoot.close();
  });

  it('ok/unknown names are left out; only-unknown subscription gets no response; trust domain ID and ALL served', async () => {
    const s = env.client.sotw();
    s.request({ names: ['nope'] });
    // Subscribing a served name next proves the unknown-only request was not answered (it would be first).
    s.request({ names: ['nope', 'spiffe://cluster.local', 'ALL'] });
    const res = await s.next();
    expect(namesOf(res)).toEqual(['spiffe://cluster.local', 'ALL']);
    expect(secretOf(res, 'spiffe://cluster.local').validationContext!.trustedCa!.inlineBytes.toString()).toBe(env.provider.bundle.rootsPem);
    const all = secretOf(res, 'ALL').validationContext!.customValidatorConfig!;
    expect(all.name).toBe('envoy.tls.cert_validator.spiffe');
    expect(all.typedConfig.trustDomains.map((d) => d.name)).toEqual(['cluster.local']);
    s.close();
  });

  it('ok/empty resource_names is a wildcard: every served secret', async () => {
    const s = env.client.sotw();
    s.request({ names: [] });
    const res = await s.next();
    expect(namesOf(res)).toEqual(['default', 'ROOTCA', 'ALL', 'spiffe://cluster.local']);
    s.close();
  });

  it('ok/empty resource_names after the client named resources unsubscribes from everything; `*` stays a wildcard', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'] });
    const first = await s.next();
    s.request({ names: [], versionInfo: first.versionInfo, nonce: first.nonce });
    // Unsubscribed: the empty list gets no response. A stream's requests are handled in order, so had
    // it been answered (legacy wildcard), that answer would arrive before the next one.
    s.request({ names: ['ROOTCA'], versionInfo: first.versionInfo, nonce: first.nonce });
    const second = await s.next();
    expect(namesOf(second)).toEqual(['ROOTCA']);
    s.request({ names: ['*'], versionInfo: second.versionInfo, nonce: second.nonce });
    const third = await s.next();
    expect(namesOf(third)).toEqual(['default', 'ROOTCA', 'ALL', 'spiffe://cluster.local']);
    s.close();
  });

  it('ok/ending the stream releases the watch', async () => {
    const s = env.client.sotw();
    s.request({ names: ['default'] });
    await s.next();
    expect(env.provider.openWatches).toBe(1);
    s.close();
    await s.inbox.ended;
    await expect.poll(() => env.provider.openWatches).toBe(0);
    expect(await metricValue(env.registry, 'castellan_sds_open_streams', { api: 'sds_sotw' })).toBe(0);
  });

  it('fail/unknown type URL ends the stream with INVALID_ARGUMENT; other streams keep being served', async () => {
    const good = env.client.sotw();
    good.request({ names: ['default'] });
    const g1 = await good.next();
    good.ack(g1);
    const bad = env.client.sotw();
    bad.request({ names: ['default'], typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
    const st = await bad.inbox.ended;
    expect(st.code).toBe(status.INVALID_ARGUMENT);
    expect(st.details).toContain('envoy.extensions.transport_sockets.tls.v3.Secret');
    await env.provider.rotate();
    expect(leafSerial(await good.next())).toBe(norm(env.provider.snapshot().svid.serialHex));
    good.close();
  });
});

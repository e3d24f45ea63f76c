import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { namesOf } from '../helpers/envoy-sds-client.js';
import { testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;

describe('SDS FetchSecrets (unary)', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('ok/returns the named secrets; the version is stable until a change', async () => {
    const a = await env.client.fetch(['default', 'ROOTCA', 'nope']);
    expect(a.status.code).toBe(status.OK);
    expect(namesOf(a.res!)).toEqual(['default', 'ROOTCA']);
    expect(a.res!.nonce).toBe('');
    const b = await env.client.fetch(['default', 'ROOTCA']);
    expect(b.res!.versionInfo).toBe(a.res!.versionInfo);
    await env.provider.rotate();
    const c = await env.client.fetch(['default', 'ROOTCA']);
    expect(c.res!.versionInfo).not.toBe(a.res!.versionInfo);
    expect(c.res!.resources[0]!.tlsCertificate!.certificateChain.inlineBytes.toString()).toBe(env.provider.snapshot().svid.chainPem);
    expect(env.provider.openWatches).toBe(0);
  });

  it('fail/only unknown names → NOT_FOUND; wrong type → INVALID_ARGUMENT', async () => {
    expect((await env.client.fetch(['nope'])).status.code).toBe(status.NOT_FOUND);
    expect((await env.client.fetch(['default'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster')).status.code).toBe(status.INVALID_ARGUMENT);
  });
});

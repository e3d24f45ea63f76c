import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../sds/agent.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { until } from '../helpers/until.js';
import { agentFixture, FAST_CHANNEL } from '../helpers/agent-fixture.js';

let f: Awaited<ReturnType<typeof agentFixture>>;
let agent: Agent | undefined;
beforeEach(async () => {
  f = await agentFixture();
});
afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await f.cleanup();
});

describe('agent metrics (docs/observability.md)', () => {
  it('ok/build info, expiry as a time stamp, and every known label value at 0 before anything happened', async () => {
    const tokenFile = path.join(f.dir, 'token');
    await f.writeToken(tokenFile, 'shop', 'cart');
    agent = await startAgent({
      caAddress: f.address,
      caBundlePem: f.bundlePem,
      tokenFile,
      ttlMs: 3_600_000,
      socketPath: path.join(f.dir, 'sds.sock'),
      log: f.log.log,
      caChannelOptions: FAST_CHANNEL,
    });
    await until(() => agent!.certificates().length === 1, 'the first certificate', 20_000);
    const m = parsePrometheusText(await agent.registry.metrics());

    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(m.find('castellan_build_info')).toEqual([
      { name: 'castellan_build_info', labels: { version: pkg.version, commit: expect.any(String), node_version: process.versions.node }, value: 1 },
    ]);

    const cert = agent.certificates()[0]!;
    expect(m.find('castellan_agent_certificate_expiry_timestamp_seconds', { spiffe_id: 'spiffe://cluster.local/ns/shop/sa/cart' }).map((s) => s.value)).toEqual([
      cert.notAfter.getTime() / 1000,
    ]);

    for (const reason of [
      'ERR_CA_UNAVAILABLE',
      'ERR_CA_REFUSED',
      'ERR_CA_RESPONSE',
      'ERR_TOKEN_REJECTED',
      'ERR_PERMISSION_DENIED',
      'ERR_TOKEN_FILE',
      'ERR_IDENTITY_CHANGED',
      'ERR_INTERNAL',
    ]) {
      expect(m.find('castellan_agent_rotation_failures_total', { reason }).map((s) => s.value)).toEqual([0]);
    }
    for (const reason of ['ERR_TOKEN_MALFORMED', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_REJECTED', 'ERR_PERMISSION_DENIED']) {
      expect(m.find('castellan_agent_node_token_refusals_total', { reason }).map((s) => s.value)).toEqual([0]);
    }
    for (const api of ['sds_sotw', 'sds_delta', 'sds_fetch', 'x509_svid', 'x509_bundles']) {
      expect(m.find('castellan_sds_pushes_total', { api }).map((s) => s.value)).toEqual([0]);
    }
    for (const api of ['sds_sotw', 'sds_delta', 'x509_svid', 'x509_bundles']) {
      expect(m.find('castellan_sds_open_streams', { api }).map((s) => s.value)).toEqual([0]);
      expect(m.find('castellan_sds_first_response_seconds_count', { api }).map((s) => s.value)).toEqual([0]);
    }
    for (const api of ['sds_sotw', 'sds_delta']) expect(m.find('castellan_sds_nacks_total', { api }).map((s) => s.value)).toEqual([0]);
    // The first certificate counts as a rotation; a counter without labels starts at 0.
    expect(m.find('castellan_agent_rotations_total', { spiffe_id: 'spiffe://cluster.local/ns/shop/sa/cart' }).map((s) => s.value)).toEqual([1]);
    expect(m.find('castellan_agent_trust_bundle_reconnects_total').map((s) => s.value)).toEqual([0]);
  });
});

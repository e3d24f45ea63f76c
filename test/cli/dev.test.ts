import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { demoHandshake, demoTlsServer } from '../../cli/dev-demo.js';
import { SdsClient } from '../../sds/index.js';
import { cli } from '../helpers/cli.js';
import { testWorkloadSocket } from '../helpers/workload-socket.js';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

describe('castellan dev', () => {
  it('ok/prints identities, mTLS handshakes and rotations, then stops on its own (--duration)', async () => {
    // 60 s certificates renewed at 5 % (about every 3 s): a rotation of each workload well within 8 s.
    const r = await cli(['dev', '--dir', 'ca', '--duration', '8s', '--renew-fraction', '0.05', '--interval', '250ms'], { cwd: t.dir });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`created a CA in ${path.join(t.dir, 'ca')}`);
    expect(r.out).toMatch(/agent {5}node mode, Envoy SDS v3 \+ SPIFFE Workload API on unix:\S+sds\.sock/);
    expect(r.out).toMatch(/server {4}identity spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server {2}serial [0-9a-f]{12}…/);
    expect(r.out).toMatch(/client {4}identity spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client {2}serial [0-9a-f]{12}…/);
    expect(r.out).toMatch(
      /mTLS #1 TLSv1\.3 {2}client saw spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server [0-9a-f]{12}… {2}server saw spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client/,
    );
    expect(r.out).toMatch(/server {4}rotated {2}serial [0-9a-f]{12}… -> [0-9a-f]{12}…/);
    expect(r.out).toMatch(/client {4}rotated {2}serial [0-9a-f]{12}… -> [0-9a-f]{12}…/);
    // After a rotation, the peer sees the new serial.
    const rotated = /server {4}rotated {2}serial [0-9a-f]{12}… -> ([0-9a-f]{12})…/.exec(r.out)![1]!;
    expect(r.out).toMatch(new RegExp(`client saw spiffe://cluster\\.local/ns/demo/sa/server ${rotated}…`));
    expect(r.out).toMatch(/stopped: \d+ handshakes, 0 failed, [1-9]\d* certificate rotations/);
    expect(existsSync(path.join(t.dir, 'ca', 'agent', 'sds.sock'))).toBe(false);
    expect(existsSync(path.join(t.dir, 'ca', 'dev-tokens', 'server.token'))).toBe(true);
  }, 30_000);

  it('fail/a bad --renew-fraction or --ttl is a usage error (exit 2)', async () => {
    expect((await cli(['dev', '--dir', 'ca', '--renew-fraction', '2'], { cwd: t.dir })).code).toBe(2);
    const r = await cli(['dev', '--dir', 'ca', '--ttl', '10s'], { cwd: t.dir });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--ttl: want whole seconds, at least 1m/);
  });
});

describe("the dev demo workloads check each other's SPIFFE ID (X509-SVID §5)", () => {
  const td = 'spiffe://cluster.local';
  let env: Awaited<ReturnType<typeof testWorkloadSocket>>;
  let clients: SdsClient[];
  let servers: Server[];
  beforeEach(async () => {
    env = await testWorkloadSocket({ mode: 'node', tokens: { 'tok-server': '/ns/demo/sa/server', 'tok-client': '/ns/demo/sa/client' } });
    clients = [];
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const c of clients) c.close();
    await env.cleanup();
  });
  const start = async (expectedClient: string) => {
    const server = new SdsClient({ socketPath: env.socket.socketPath, token: 'tok-server' });
    const client = new SdsClient({ socketPath: env.socket.socketPath, token: 'tok-client' });
    clients.push(server, client);
    const [first] = await Promise.all([server.ready(), client.ready()]);
    const tls = await demoTlsServer(first, server, expectedClient);
    servers.push(tls);
    return { client, port: (tls.address() as AddressInfo).port };
  };

  it('ok/the expected peers on both sides: the handshake succeeds and each saw the other', async () => {
    const { client, port } = await start(`${td}/ns/demo/sa/client`);
    const r = await demoHandshake(client, port, `${td}/ns/demo/sa/server`);
    expect(r.server.id).toBe(`${td}/ns/demo/sa/server`);
    expect(r.client.id).toBe(`${td}/ns/demo/sa/client`);
  });

  it('fail/a server with another SPIFFE ID than expected fails the handshake on the client', async () => {
    const { client, port } = await start(`${td}/ns/demo/sa/client`);
    await expect(demoHandshake(client, port, `${td}/ns/demo/sa/other`)).rejects.toThrow(
      /server identity: the peer is spiffe:\/\/cluster\.local\/ns\/demo\/sa\/server, want .*\/sa\/other/,
    );
  });

  it('fail/a client with another SPIFFE ID than expected is refused by the server', async () => {
    const { client, port } = await start(`${td}/ns/demo/sa/other`);
    await expect(demoHandshake(client, port, `${td}/ns/demo/sa/server`)).rejects.toThrow(/the server refused our identity: the peer is .*\/sa\/client/);
  });
});

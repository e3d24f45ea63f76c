import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorkloadSocket } from '../../sds/index.js';
import { memoryLog } from '../helpers/ca-server.js';
import { asyncCodeOf } from '../helpers/error-code.js';
import { StaticSecretProvider } from '../helpers/static-secret-provider.js';
import { tempDir } from '../helpers/test-ca.js';
import { EnvoySdsClient } from '../helpers/envoy-sds-client.js';
import { metricValue } from '../helpers/workload-socket.js';
import { Registry } from 'prom-client';

describe('the workload socket', () => {
  let t: ReturnType<typeof tempDir>;
  let provider: StaticSecretProvider;
  beforeEach(async () => {
    t = tempDir('castellan-sock-');
    provider = await StaticSecretProvider.create();
  });
  afterEach(() => {
    provider.cleanup();
    t.cleanup();
  });

  it('ok/socket file mode 0660; close ends open streams and removes the file', async () => {
    const socketPath = path.join(t.dir, 'run', 'sds.sock');
    const sock = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log });
    expect(lstatSync(socketPath).mode & 0o777).toBe(0o660);
    const client = new EnvoySdsClient(socketPath);
    const s = client.sotw();
    s.request({ names: ['default'] });
    await s.next();
    await sock.close();
    expect((await s.inbox.ended).code).toBe(status.OK);
    expect(() => lstatSync(socketPath)).toThrow();
    expect(provider.openWatches).toBe(0);
    client.close();
  });

  it('ok/with a permissive umask the socket is still 0660, bound in a private directory that is gone afterwards', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    const umask = process.umask(0);
    let sock;
    try {
      sock = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log });
    } finally {
      process.umask(umask);
    }
    expect(lstatSync(socketPath).mode & 0o777).toBe(0o660);
    expect(readdirSync(t.dir)).toEqual(['sds.sock']);
    const client = new EnvoySdsClient(socketPath);
    expect((await client.fetch(['default'])).status.code).toBe(status.OK);
    client.close();
    await sock.close();
    expect(readdirSync(t.dir)).toEqual([]);
  });

  it('fail/a path that fits but whose private staging path does not is refused, leaving nothing behind', async () => {
    const dir = path.join(t.dir, 'd'.repeat(100 - Buffer.byteLength(t.dir) - 1));
    const socketPath = path.join(dir, 'sds'); // 104 bytes; staged as <dir>/.sXXXXXX/s, 111 bytes
    expect(Buffer.byteLength(socketPath)).toBe(104);
    expect(await asyncCodeOf(startWorkloadSocket({ socketPath, provider, log: memoryLog().log }))).toBe('ERR_SOCKET_PATH');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('ok/restarting on the same path with the same metrics registry keeps counting', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    const registry = new Registry();
    for (let round = 1; round <= 2; round++) {
      const sock = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log, registry });
      const client = new EnvoySdsClient(socketPath);
      expect((await client.fetch(['default'])).status.code).toBe(status.OK);
      client.close();
      await sock.close();
      expect(await metricValue(registry, 'castellan_sds_pushes_total', { api: 'sds_fetch' })).toBe(round);
    }
  });

  it('ok/a stale socket file left by a dead agent is replaced', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    // What a crashed agent leaves behind: a process that listened and died without unlinking.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    const sock = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log });
    const client = new EnvoySdsClient(socketPath);
    expect((await client.fetch(['default'])).status.code).toBe(status.OK);
    client.close();
    await sock.close();
  });

  it('fail/refuses a path served by a live agent, or a path that is not a socket', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    const first = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log });
    expect(await asyncCodeOf(startWorkloadSocket({ socketPath, provider, log: memoryLog().log }))).toBe('ERR_SOCKET_IN_USE');
    const client = new EnvoySdsClient(socketPath);
    expect((await client.fetch(['default'])).status.code).toBe(status.OK);
    client.close();
    await first.close();
    const file = path.join(t.dir, 'plain');
    writeFileSync(file, 'x');
    expect(await asyncCodeOf(startWorkloadSocket({ socketPath: file, provider, log: memoryLog().log }))).toBe('ERR_SOCKET_PATH');
    expect(await asyncCodeOf(startWorkloadSocket({ socketPath: path.join(t.dir, 'x'.repeat(120)), provider, log: memoryLog().log }))).toBe('ERR_SOCKET_PATH');
  });
});

describe('workload socket connections that stall', () => {
  let t: ReturnType<typeof tempDir>;
  let provider: StaticSecretProvider;
  beforeEach(async () => {
    t = tempDir('castellan-sock-');
    provider = await StaticSecretProvider.create();
  });
  afterEach(() => {
    provider.cleanup();
    t.cleanup();
  });

  /** An HTTP/2 session over the Unix socket, without gRPC: it does only what the test tells it. */
  const rawSession = (socketPath: string) => {
    const s = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    s.on('error', () => undefined);
    return s;
  };
  const closed = (e: NodeJS.EventEmitter, limitMs = 8_000) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), limitMs);
      e.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  it('fail/calls whose first request never arrives close their connection after requestTimeoutMs; other clients are served', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    const sock = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log, requestTimeoutMs: 300 });
    const client = new EnvoySdsClient(socketPath);
    try {
      const session = rawSession(socketPath);
      const paths = [
        '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets',
        '/envoy.service.secret.v3.SecretDiscoveryService/DeltaSecrets',
        '/SpiffeWorkloadAPI/FetchX509SVID',
      ];
      const streams = paths.map((p) => {
        const st = session.request({ ':method': 'POST', ':path': p, 'content-type': 'application/grpc', te: 'trailers', 'workload.spiffe.io': 'true' }, { endStream: false });
        st.on('error', () => undefined);
        return st;
      });
      // A real client on its own connection is served meanwhile, and its open stream is left alone.
      const s = client.sotw();
      s.request({ names: ['default'] });
      await s.next();
      expect(await Promise.all([closed(session), ...streams.map((st) => closed(st))])).toEqual([true, true, true, true]);
      expect((await client.fetch(['default'])).status.code).toBe(status.OK);
      expect(provider.openWatches).toBe(1);
    } finally {
      client.close();
      await sock.close();
    }
  });

  it('fail/a connection without any call is closed after idleTimeoutMs', async () => {
    const socketPath = path.join(t.dir, 'sds.sock');
    const sock = await startWorkloadSocket({ socketPath, provider, log: memoryLog().log, idleTimeoutMs: 300 });
    try {
      const mute = net.connect(socketPath); // not even the HTTP/2 preface
      mute.on('error', () => undefined);
      mute.resume(); // read, so that the server's close is seen
      expect(await Promise.all([closed(rawSession(socketPath)), closed(mute)])).toEqual([true, true]);
      const client = new EnvoySdsClient(socketPath);
      expect((await client.fetch(['default'])).status.code).toBe(status.OK);
      client.close();
    } finally {
      await sock.close();
    }
  });
});

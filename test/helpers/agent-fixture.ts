import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDevTokenIssuer, type CaServer } from '../../ca/index.js';
import { mintServiceAccountToken } from '../../workload-identity/index.js';
import { memoryLog, testCaServer } from './ca-server.js';
import { testCa } from './test-ca.js';

/** The test CA (test-ca.ts) served by a real CA server (dev issuer), plus a token minter, for agent tests. */
export async function agentFixture(o: { config?: Parameters<typeof testCaServer>[1] } = {}) {
  const t = await testCa({ trustDomain: 'cluster.local' });
  const caDir = path.join(t.dir, 'ca');
  const bundlePem = t.ca.bundle.map((c) => c.pem).join('');
  const issuer = await loadDevTokenIssuer(caDir);
  let ca: { server: CaServer; address: string; lines: string[] } | undefined = await testCaServer(caDir, o.config ?? {}, true);
  const port = ca.server.grpcPort;
  const mint = (namespace: string, serviceAccount: string, extra: { ttlSeconds?: number; audiences?: string[]; now?: Date } = {}) =>
    mintServiceAccountToken(issuer.privateKey, issuer.kid, {
      issuer: issuer.issuer,
      audiences: extra.audiences ?? ['castellan'],
      namespace,
      serviceAccount,
      ttlSeconds: extra.ttlSeconds ?? 3600,
      ...(extra.now ? { now: extra.now } : {}),
    });
  const writeToken = async (file: string, ns: string, sa: string) => {
    const token = await mint(ns, sa);
    writeFileSync(file, token, { mode: 0o600 });
    return token;
  };
  return {
    dir: t.dir,
    caDir,
    bundlePem,
    mint,
    writeToken,
    get address() {
      return `127.0.0.1:${port}`;
    },
    get ca() {
      return ca!;
    },
    log: memoryLog(),
    async stopCa() {
      await ca?.server.shutdown(100);
      ca = undefined;
    },
    /** Restarts the CA server on the same port and directory. */
    async startCa() {
      ca = await testCaServer(caDir, { ...(o.config ?? {}), listen: `127.0.0.1:${port}` }, true);
    },
    async cleanup() {
      await ca?.server.shutdown(100);
      t.cleanup();
    },
  };
}

/** Fast reconnects of the agent's CA channel (real time: grpc-js' own connection backoff). */
export const FAST_CHANNEL = { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 200 };

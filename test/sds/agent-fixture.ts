import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { initCa, loadCa, loadDevTokenIssuer, type CaServer } from '../../ca/index.js';
import { mintServiceAccountToken, TrustDomain } from '../../workload-identity/index.js';
import { memoryLog, testCaServer } from '../helpers/ca-server.js';
import { tempDir } from '../helpers/test-ca.js';

/** A real CA directory and server (dev issuer) plus a token minter, for agent tests. */
export async function agentFixture(o: { config?: Parameters<typeof testCaServer>[1] } = {}) {
  const t = tempDir('castellan-agent-');
  const caDir = path.join(t.dir, 'ca');
  await initCa({ dir: caDir, trustDomain: TrustDomain.of('cluster.local') });
  const bundlePem = (await loadCa(caDir)).bundle.map((c) => c.pem).join('');
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

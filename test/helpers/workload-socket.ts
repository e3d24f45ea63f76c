import path from 'node:path';
import { Registry } from 'prom-client';
import { startWorkloadSocket, type WorkloadSocket } from '../../sds/index.js';
import { memoryLog } from './ca-server.js';
import { EnvoySdsClient } from './envoy-sds-client.js';
import { StaticSecretProvider } from './static-secret-provider.js';
import { tempDir } from './test-ca.js';

/** A workload socket in a temp dir, served from a StaticSecretProvider, with an Envoy-like client. */
export async function testWorkloadSocket(o: { mode?: 'sidecar' | 'node'; tokens?: Record<string, string> } = {}): Promise<{
  provider: StaticSecretProvider;
  socket: WorkloadSocket;
  client: EnvoySdsClient;
  registry: Registry;
  lines: string[];
  dir: string;
  newClient(token?: string): EnvoySdsClient;
  cleanup(): Promise<void>;
}> {
  const t = tempDir('castellan-sds-');
  const provider = await StaticSecretProvider.create(o.tokens ? { tokens: o.tokens } : {});
  const { log, lines } = memoryLog();
  const registry = new Registry();
  const socket = await startWorkloadSocket({ socketPath: path.join(t.dir, 'sds.sock'), provider, log, registry, ...(o.mode ? { mode: o.mode } : {}) });
  const clients: EnvoySdsClient[] = [];
  const newClient = (token?: string) => {
    const c = new EnvoySdsClient(socket.socketPath, token);
    clients.push(c);
    return c;
  };
  const client = newClient();
  return {
    provider,
    socket,
    client,
    registry,
    lines,
    dir: t.dir,
    newClient,
    async cleanup() {
      for (const c of clients) c.close();
      await socket.close();
      provider.cleanup();
      t.cleanup();
    },
  };
}

/** The value of a counter/gauge with these labels (0 when absent). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  const hit = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

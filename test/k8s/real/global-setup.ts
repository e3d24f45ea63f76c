// vitest globalSetup of the `k8s` project (vitest.config.ts): one real API server for the whole run,
// handed to every test file as plain data (`inject('castellanK8s')`); each file uses its own namespaces.
import type { TestProject } from 'vitest/node';
import type { RealApiServerInfo } from './api-client.js';
import { startRealApiServer } from './api-server.js';
import { findK8sBinaries, k8sRequired } from './binaries.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared API server, or why there is none (the tests then skip). */
    castellanK8s: RealApiServerInfo | { readonly skip: string };
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const found = findK8sBinaries();
  if ('skip' in found) {
    if (k8sRequired()) throw new Error(`k8s-real: CASTELLAN_REQUIRE_K8S=1 but ${found.skip}`);
    console.warn(`k8s-real: SKIPPING the tests against a real kube-apiserver: ${found.skip}`);
    project.provide('castellanK8s', { skip: found.skip });
    return undefined;
  }
  const server = await startRealApiServer({ binDir: found.binDir });
  console.log(`k8s-real: kube-apiserver + etcd ready at ${server.url} in ${(server.startedInMs / 1000).toFixed(1)} s (binaries: ${found.binDir})`);
  project.provide('castellanK8s', server.info);
  return () => server.stop();
}

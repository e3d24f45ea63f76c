// The harness for tests against a real kube-apiserver + etcd (docs/testing.md).
//
// In a test file of the `k8s` vitest project (`*.real.test.ts`):
//   const api = sharedApiServer();
//   describe.skipIf(api === undefined)('... against a real API server', () => { ... api!.createNamespace('x') ... });
// A test that needs its own server (other flags) calls startRealApiServer() and stops it.
import { inject } from 'vitest';
import { RealApiClient } from './api-client.js';
import { k8sRequired } from './binaries.js';

export {
  ApiCallError,
  RealApiClient,
  serviceAccountUser,
  type AccessAttributes,
  type AuditEvent,
  type KubeconfigUser,
  type ObjectRef,
  type PolicyRule,
  type RbacSubject,
  type RealApiServerInfo,
} from './api-client.js';
export { DEFAULT_SA_ISSUER, RealApiServer, startRealApiServer, type RealApiServerOptions } from './api-server.js';
export { defaultK8sBinDir, findK8sBinaries, k8sRequired } from './binaries.js';

let warned = false;

/**
 * The API server globalSetup started for this run, or undefined (after printing why) when the
 * binaries are absent; with CASTELLAN_REQUIRE_K8S=1 globalSetup fails the run instead.
 */
export function sharedApiServer(): RealApiClient | undefined {
  const provided = inject('castellanK8s');
  if (provided === undefined || 'skip' in provided) {
    const why = provided === undefined ? 'no API server was provided: run this file through vitest.config.ts (project "k8s")' : provided.skip;
    if (k8sRequired()) throw new Error(`k8s-real: CASTELLAN_REQUIRE_K8S=1 but ${why}`);
    if (!warned) console.warn(`k8s-real: skipping: ${why}`);
    warned = true;
    return undefined;
  }
  return new RealApiClient(provided);
}

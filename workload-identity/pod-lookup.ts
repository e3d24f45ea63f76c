import type { KubeConfig } from '@kubernetes/client-node';
import type { AuthErrorCode } from './authenticator.js';
import { CastellanError } from './errors.js';

/** Finds a pod by namespace and name; `undefined` when it does not exist. Throws when it cannot tell. */
export type PodLookup = (namespace: string, name: string) => Promise<{ readonly uid: string; readonly deletionTimestamp?: Date } | undefined>;

/**
 * A {@link PodLookup} over the Kubernetes API (`GET /api/v1/namespaces/{ns}/pods/{name}`); a 404 is
 * "no such pod", any other failure throws ERR_AUTH_BACKEND_UNAVAILABLE.
 *
 * @example
 *   const kc = new KubeConfig(); kc.loadFromCluster();
 *   new JwksAuthenticator({ ..., requirePodBinding: true, podLookup: kubernetesPodLookup(kc) });
 */
export function kubernetesPodLookup(kc: KubeConfig): PodLookup {
  if (typeof kc?.getCurrentCluster !== 'function' || kc.getCurrentCluster() === null) {
    throw new TypeError('jwks: kubernetesPodLookup needs a loaded KubeConfig with a current cluster');
  }
  // Loaded on first use: @kubernetes/client-node takes ~0.5 s to import, which processes that never
  // call the API (the agent, most CLI commands) should not pay.
  const client = import('@kubernetes/client-node').then((k8s) => ({ k8s, api: kc.makeApiClient(k8s.CoreV1Api) }));
  client.catch(() => undefined);
  return async (namespace, name) => {
    const { k8s, api } = await client;
    try {
      const pod = await api.readNamespacedPod({ namespace, name });
      const uid = pod.metadata?.uid;
      if (uid === undefined || uid === '') return undefined;
      const deleted = pod.metadata?.deletionTimestamp;
      return deleted === undefined ? { uid } : { uid, deletionTimestamp: new Date(deleted) };
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      const status = err instanceof k8s.ApiException ? `HTTP ${err.code}` : err instanceof Error ? err.message : String(err);
      throw new CastellanError<AuthErrorCode>('ERR_AUTH_BACKEND_UNAVAILABLE', `jwks: cannot read pod ${namespace}/${name} from the Kubernetes API (${status}); check connectivity and RBAC (pods: get)`, {
        cause: new Error(status),
        context: { namespace, pod: name },
      });
    }
  };
}

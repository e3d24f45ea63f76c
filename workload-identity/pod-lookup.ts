import type { KubeConfig } from '@kubernetes/client-node';
import type { AuthErrorCode } from './authenticator.js';
import { CastellanError } from './errors.js';

/** What a lookup tells of an object: its uid, and when it is being deleted. */
export interface LiveObject {
  readonly uid: string;
  readonly deletionTimestamp?: Date;
}

/**
 * Finds the objects a pod-bound token names (kube-apiserver checks the same ones at TokenReview,
 * pkg/serviceaccount/claims.go): the pod and the service account. Each resolves `undefined` when the
 * object does not exist, and throws when it cannot tell.
 */
export interface PodLookup {
  pod(namespace: string, name: string): Promise<LiveObject | undefined>;
  serviceAccount(namespace: string, name: string): Promise<LiveObject | undefined>;
}

/**
 * A {@link PodLookup} over the Kubernetes API (`GET /api/v1/namespaces/{ns}/pods/{name}` and
 * `.../serviceaccounts/{name}`); RBAC: `get` on `pods` and `serviceaccounts`. A 404 is "no such
 * object", any other failure throws ERR_AUTH_BACKEND_UNAVAILABLE.
 *
 * @example
 *   const kc = await loadKubeConfig(undefined);
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
  const read = async (resource: 'pods' | 'serviceaccounts', namespace: string, name: string): Promise<LiveObject | undefined> => {
    const { k8s, api } = await client;
    try {
      const o = resource === 'pods' ? await api.readNamespacedPod({ namespace, name }) : await api.readNamespacedServiceAccount({ namespace, name });
      const uid = o.metadata?.uid;
      if (uid === undefined || uid === '') return undefined;
      const deleted = o.metadata?.deletionTimestamp;
      return deleted === undefined ? { uid } : { uid, deletionTimestamp: new Date(deleted) };
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      const status = err instanceof k8s.ApiException ? `HTTP ${err.code}` : err instanceof Error ? err.message : String(err);
      // A 403 whose Status names system:anonymous: the request carried no credential (the body is raw JSON text).
      const anonymous =
        err instanceof k8s.ApiException && err.code === 403 && (typeof err.body === 'string' ? err.body : JSON.stringify(err.body ?? '')).includes('system:anonymous');
      const fix = anonymous
        ? 'the API sees Castellan as system:anonymous: its kubeconfig yields no credential; give it a token, tokenFile or client certificate'
        : `check connectivity and RBAC (${resource}: get)`;
      throw new CastellanError<AuthErrorCode>('ERR_AUTH_BACKEND_UNAVAILABLE', `jwks: cannot read ${resource} ${namespace}/${name} from the Kubernetes API (${status}); ${fix}`, {
        cause: new Error(status),
        context: { namespace, [resource === 'pods' ? 'pod' : 'serviceAccount']: name },
      });
    }
  };
  return {
    pod: (namespace, name) => read('pods', namespace, name),
    serviceAccount: (namespace, name) => read('serviceaccounts', namespace, name),
  };
}

// Asks a real kube-apiserver whether a user may do each request of an access matrix
// (authorization.k8s.io/v1 SubjectAccessReview), for the chart tests against a real API server.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Access, Expectation } from './rbac-matrix.js';

/** The requests whose answer differs from the expectation, described for a test failure. */
export async function accessMismatches(kubeConfig: KubeConfig, user: string, matrix: readonly Expectation[]): Promise<string[]> {
  const k8s = await import('@kubernetes/client-node');
  const api = kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
  const wrong: string[] = [];
  for (const e of matrix) {
    const review = await api.createSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user,
          ...(user.startsWith('system:serviceaccount:') ? { groups: ['system:serviceaccounts', `system:serviceaccounts:${user.split(':')[2]}`, 'system:authenticated'] } : {}),
          resourceAttributes: attributes(e),
        },
      },
    });
    const allowed = review.status?.allowed === true;
    if (allowed !== e.allowed) wrong.push(`${allowed ? 'ALLOWED' : 'denied'}: ${describe(e)} (${e.why})${review.status?.reason ? `; ${review.status.reason}` : ''}`);
  }
  return wrong;
}

function attributes(a: Access): Record<string, string> {
  const [resource, subresource] = a.resource.split('/') as [string, string | undefined];
  return {
    verb: a.verb,
    group: a.group,
    resource,
    ...(subresource ? { subresource } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
    ...(a.name ? { name: a.name } : {}),
  };
}

function describe(a: Access): string {
  return `${a.verb} ${a.group || 'core'}/${a.resource}${a.name ? `/${a.name}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;
}

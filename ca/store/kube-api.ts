import type { ApiException, ConfigurationOptions, KubeConfig, RequestContext, ResponseContext } from '@kubernetes/client-node';

/** The client module, loaded on first use (it takes ~0.5 s to import; commands that never talk to Kubernetes skip it). */
export type KubeModule = typeof import('@kubernetes/client-node');

let loading: Promise<KubeModule> | undefined;

/** Loads `@kubernetes/client-node` once per process. */
export function kubeModule(): Promise<KubeModule> {
  loading ??= import('@kubernetes/client-node');
  return loading;
}

type Middleware = NonNullable<ConfigurationOptions['middleware']>[number];

/**
 * Per-call options that abort the request on `signal` or after `timeoutMs`: a stuck API server must
 * not hang a transition or a lease renewal.
 */
export function callOptions(k8s: KubeModule, signal: AbortSignal, timeoutMs: number): ConfigurationOptions {
  const { Observable } = k8s;
  const middleware: Middleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** The HTTP status of a failed API call (404, 409, 403 …), or undefined for a transport failure. */
export function apiStatus(k8s: KubeModule, err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? (err as ApiException<unknown>).code : undefined;
}

/** Loggable facts of a failure: HTTP status and the Status reason/message, never headers or tokens. */
export function apiErrorFacts(k8s: KubeModule, err: unknown): { status?: number; reason?: string; error?: string } {
  if (err instanceof k8s.ApiException) {
    const e = err as ApiException<unknown>;
    let body: unknown = e.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        body = undefined;
      }
    }
    const s = (typeof body === 'object' && body !== null ? body : {}) as { reason?: unknown; message?: unknown };
    return { status: e.code, ...(typeof s.reason === 'string' ? { reason: s.reason } : {}), ...(typeof s.message === 'string' ? { error: s.message } : {}) };
  }
  return { error: err instanceof Error ? err.message : String(err) };
}

/** The same facts as one line for messages: `HTTP 403 Forbidden: ...`. */
export function describeApiError(k8s: KubeModule, err: unknown): string {
  const f = apiErrorFacts(k8s, err);
  if (f.status === undefined) return f.error ?? 'unknown error';
  return `HTTP ${f.status}${f.reason ? ` ${f.reason}` : ''}${f.error ? `: ${f.error}` : ''}`;
}

/** What an operator should grant when the API answers 403 to `verb` on `resource`. */
export function rbacHint(status: number | undefined, verb: string, resource: string, namespace: string, name?: string): string {
  if (status !== 403) return '';
  return ` (grant the CA's service account "${verb}" on ${resource}${name ? ` "${name}"` : ''} in namespace ${namespace}; docs/install.md lists every rule)`;
}

/** The namespace this pod runs in (in-cluster), if known. */
export async function podNamespace(): Promise<string | undefined> {
  const { promises: fs } = await import('node:fs');
  try {
    return (await fs.readFile('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

export type { KubeConfig };

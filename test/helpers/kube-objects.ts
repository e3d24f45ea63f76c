// Any object a chart renders, sent to a real kube-apiserver as its admin: the resource path found by API
// discovery (so CRDs work once installed), server-side apply with strict field validation, dry-run or
// real, and the `Warning` headers of the answer (Pod Security admission warns there).
import { request } from 'node:https';

/** An object as `helm template` renders it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; uid?: string; resourceVersion?: string };
  [field: string]: unknown;
}

/** One answer of the API server. */
export interface KubeAnswer {
  readonly status: number;
  readonly body: any;
  /** The `Warning` headers' texts (RFC 7234 §5.5 as Kubernetes uses it: `299 - "text"`). */
  readonly warnings: readonly string[];
}

interface Resource {
  readonly plural: string;
  readonly namespaced: boolean;
}

/**
 * @example
 *   const kube = new KubeObjects(api);
 *   const r = await kube.apply(deployment, { dryRun: true });
 *   expect(r.status).toBe(200);
 */
export class KubeObjects {
  private readonly served = new Map<string, Map<string, Resource>>();

  constructor(private readonly server: { readonly url: string; readonly caPem: string; readonly adminToken: string }) {}

  /** An HTTPS request as admin (or with `token`). */
  request(method: string, path: string, body?: unknown, o: { contentType?: string; token?: string } = {}): Promise<KubeAnswer> {
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.server.url),
        {
          method,
          ca: this.server.caPem,
          agent: false,
          timeout: 30_000,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${o.token ?? this.server.adminToken}`,
            ...(payload === undefined ? {} : { 'content-type': o.contentType ?? 'application/json', 'content-length': payload.length }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // not JSON
            }
            const warnings: string[] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) {
              if (res.rawHeaders[i]!.toLowerCase() === 'warning') warnings.push(res.rawHeaders[i + 1]!.replace(/^\d{3} [^ ]+ "(.*)"$/s, '$1').replace(/\\(.)/g, '$1'));
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, warnings });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Where the API server serves `kind` of `apiVersion`, or undefined when it does not (a CRD not installed). */
  async resource(apiVersion: string, kind: string): Promise<Resource | undefined> {
    let kinds = this.served.get(apiVersion);
    if (kinds === undefined || !kinds.has(kind)) {
      const r = await this.request('GET', apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`discovery of ${apiVersion}: HTTP ${r.status}`);
      kinds = new Map(
        (r.body.resources as { name: string; kind: string; namespaced: boolean }[])
          .filter((x) => !x.name.includes('/'))
          .map((x) => [x.kind, { plural: x.name, namespaced: x.namespaced }]),
      );
      this.served.set(apiVersion, kinds);
    }
    return kinds.get(kind);
  }

  /** The object's API path (collection when `name` is false). Throws when the kind is not served. */
  async path(o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, name = true): Promise<string> {
    const res = await this.resource(o.apiVersion, o.kind);
    if (res === undefined) throw new Error(`${o.apiVersion} ${o.kind} is not served by this API server`);
    const base = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
    if (res.namespaced && !o.metadata.namespace) throw new Error(`${o.kind} ${o.metadata.name} has no namespace`);
    return `${base}${res.namespaced ? `/namespaces/${o.metadata.namespace}` : ''}/${res.plural}${name ? `/${o.metadata.name}` : ''}`;
  }

  /**
   * Server-side apply (field manager `castellan-chart-test`, forced) with strict field validation, so an
   * unknown or duplicated field fails instead of being dropped; `dryRun` runs admission without storing.
   */
  async apply(o: KubeObject, { dryRun = false }: { dryRun?: boolean } = {}): Promise<KubeAnswer> {
    const query = `fieldManager=castellan-chart-test&force=true&fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
    return this.request('PATCH', `${await this.path(o)}?${query}`, o, { contentType: 'application/apply-patch+yaml' });
  }

  /** Creates the object with POST (what a controller does for a pod); `dryRun` runs admission only. */
  async create(o: KubeObject, { dryRun = false }: { dryRun?: boolean } = {}): Promise<KubeAnswer> {
    return this.request('POST', `${await this.path(o, false)}?fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`, o);
  }

  /** GETs the object; `undefined` on 404. */
  async get(o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<any> {
    const r = await this.request('GET', await this.path(o));
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${o.kind} ${o.metadata.name}: HTTP ${r.status}: ${r.body?.message ?? ''}`);
    return r.body;
  }

  /** Deletes the object; a missing one (or kind) is not an error. */
  async delete(o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<void> {
    if ((await this.resource(o.apiVersion, o.kind)) === undefined) return;
    const r = await this.request('DELETE', await this.path(o));
    if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new Error(`DELETE ${o.kind} ${o.metadata.name}: HTTP ${r.status}: ${r.body?.message ?? ''}`);
  }
}

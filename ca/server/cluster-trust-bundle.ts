import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { caError } from '../errors.js';
import { apiErrorFacts, apiStatus, callOptions, describeApiError, type KubeModule, kubeModule, STORE_LABELS } from '../store/index.js';

/** The part of TrustBundleSource the publisher needs. */
export interface ClusterTrustBundleSource {
  current(): { readonly sequence: number; readonly pem: string };
  subscribe(listener: (s: { readonly sequence: number; readonly pem: string }) => void): () => void;
}

export interface ClusterTrustBundlePublisherOptions {
  readonly kubeConfig: KubeConfig;
  readonly bundle: ClusterTrustBundleSource;
  /** The signer name (`castellan.io/<trust domain>` by default; clusterTrustBundleSignerName). */
  readonly signerName: string;
  /** How often the object is checked again (someone may edit or delete it; an old API server may be upgraded), ms. Default 60000. */
  readonly resyncMs?: number;
  readonly requestTimeoutMs?: number;
  readonly log: Logger;
}

/** The object's name: the signer name with `/` as `:` and a suffix (Kubernetes requires that prefix, names.go ValidateClusterTrustBundleName). */
export function clusterTrustBundleName(signerName: string): string {
  return `${signerName.replace('/', ':')}:bundle`;
}

/**
 * The default signer name of a trust domain, `castellan.io/<trust domain>`, when the trust domain is a
 * valid signer path (DNS-1123 labels: no `_`, SPIFFE trust domains may have one); else undefined.
 */
export function defaultSignerName(trustDomain: string): string | undefined {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(trustDomain) && trustDomain.length <= 200 ? `castellan.io/${trustDomain}` : undefined;
}

/** What the publisher found the API server to serve. */
export type ClusterTrustBundleApi = 'v1beta1' | 'v1alpha1' | 'none';

/**
 * Publishes the trust bundle as a cluster-scoped `certificates.k8s.io` ClusterTrustBundle
 * (KEP-3257; v1beta1 since Kubernetes 1.33, v1alpha1 before, both behind the ClusterTrustBundle feature
 * gate and `--runtime-config`), kept in step with every change of the bundle: pods can then mount it with
 * a `clusterTrustBundle` projected volume (by name or by signer name). Creating or updating a bundle with a
 * signer name needs the `attest` verb on `signers` (certificates.k8s.io, resourceName = the signer name,
 * docs/kubernetes.md). An API server that serves no ClusterTrustBundle is looked at again every resync;
 * the bundle ConfigMaps (bundle-configmaps.ts) are published either way. Runs on the leader only.
 *
 * @example const p = new ClusterTrustBundlePublisher({ kubeConfig, bundle: server.trustBundle, signerName: 'castellan.io/cluster.local', log }); void p.start();
 */
export class ClusterTrustBundlePublisher {
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly abort = new AbortController();
  /** What the last pass found and did (tests, logs). */
  api: ClusterTrustBundleApi | undefined;
  lastWrittenSequence = 0;
  private lastProblem: string | undefined;

  constructor(private readonly o: ClusterTrustBundlePublisherOptions) {}

  get name(): string {
    return clusterTrustBundleName(this.o.signerName);
  }

  /** Starts following the bundle; never rejects (failures are logged and retried at the next resync). */
  start(): Promise<void> {
    this.unsubscribe = this.o.bundle.subscribe(() => void this.sync());
    return this.sync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  /** One pass now (and one more if asked meanwhile); resolves when done. */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
      if (!this.stopped) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.sync(), this.o.resyncMs ?? 60_000);
        this.timer.unref();
      }
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const k8s = await kubeModule();
    const opts = callOptions(k8s, this.abort.signal, this.o.requestTimeoutMs ?? 10_000);
    const bundle = this.o.bundle.current();
    try {
      const api = await this.discover(k8s, opts);
      if (api === 'none') return;
      const client = api === 'v1beta1' ? this.o.kubeConfig.makeApiClient(k8s.CertificatesV1beta1Api) : this.o.kubeConfig.makeApiClient(k8s.CertificatesV1alpha1Api);
      const body = {
        apiVersion: `certificates.k8s.io/${api}`,
        kind: 'ClusterTrustBundle',
        metadata: { name: this.name, labels: { ...STORE_LABELS }, annotations: { 'castellan.io/bundle-sequence': String(bundle.sequence) } },
        spec: { signerName: this.o.signerName, trustBundle: bundle.pem },
      };
      let existing: { metadata?: { resourceVersion?: string; annotations?: Record<string, string> }; spec?: { trustBundle?: string } } | undefined;
      try {
        existing = await (client as { readClusterTrustBundle(p: { name: string }, o: unknown): Promise<typeof existing> }).readClusterTrustBundle({ name: this.name }, opts);
      } catch (err) {
        if (apiStatus(k8s, err) !== 404) throw err;
      }
      if (existing === undefined) {
        await (client as { createClusterTrustBundle(p: { body: unknown; fieldManager: string }, o: unknown): Promise<unknown> }).createClusterTrustBundle(
          { body, fieldManager: 'castellan' },
          opts,
        );
        this.o.log.info({ name: this.name, signerName: this.o.signerName, sequence: bundle.sequence, api }, 'ClusterTrustBundle created');
      } else {
        // Another replica (a newer leader) may have written a newer bundle: never move it backwards.
        const theirs = Number(existing.metadata?.annotations?.['castellan.io/bundle-sequence'] ?? 0);
        if (existing.spec?.trustBundle === bundle.pem || theirs > bundle.sequence) {
          this.ok(bundle.sequence, api);
          return;
        }
        await (client as { replaceClusterTrustBundle(p: { name: string; body: unknown; fieldManager: string }, o: unknown): Promise<unknown> }).replaceClusterTrustBundle(
          { name: this.name, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion ?? '' } }, fieldManager: 'castellan' },
          opts,
        );
        this.o.log.info({ name: this.name, sequence: bundle.sequence, api }, 'ClusterTrustBundle updated');
      }
      this.ok(bundle.sequence, api);
    } catch (err) {
      if (this.stopped) return;
      const status = apiStatus(k8s, err);
      if (status === 409) {
        this.again = true; // changed under us: read it again
        return;
      }
      const hint =
        status === 403
          ? ` (grant the CA's service account "create", "get", "update" on clustertrustbundles and "attest" on signers "${this.o.signerName}" in certificates.k8s.io; docs/kubernetes.md)`
          : '';
      const problem = `cannot publish ClusterTrustBundle ${this.name}: ${describeApiError(k8s, err)}${hint}`;
      if (problem !== this.lastProblem)
        this.o.log.error(
          // The API server's facts (status, reason, message), never the raw exception: it carries the response's headers and body.
          { err: caError('ERR_STORE_UNAVAILABLE', problem), api: apiErrorFacts(k8s, err) },
          'ClusterTrustBundle: publishing failed; retrying at the next resync (the bundle ConfigMaps are unaffected)',
        );
      this.lastProblem = problem;
    }
  }

  private ok(sequence: number, api: ClusterTrustBundleApi): void {
    this.lastWrittenSequence = sequence;
    if (this.lastProblem !== undefined) this.o.log.info({ name: this.name, api }, 'ClusterTrustBundle: publishing works again');
    this.lastProblem = undefined;
  }

  /** Which ClusterTrustBundle API the server serves: a list with limit 1 per version, 404 meaning "not served". */
  private async discover(k8s: KubeModule, opts: ReturnType<typeof callOptions>): Promise<ClusterTrustBundleApi> {
    type Lister = { listClusterTrustBundle(p: { limit: number }, o: unknown): Promise<unknown> };
    for (const [version, client] of [
      ['v1beta1', () => this.o.kubeConfig.makeApiClient(k8s.CertificatesV1beta1Api) as Lister],
      ['v1alpha1', () => this.o.kubeConfig.makeApiClient(k8s.CertificatesV1alpha1Api) as Lister],
    ] as const) {
      try {
        await client().listClusterTrustBundle({ limit: 1 }, opts);
        if (this.api !== version) this.o.log.info({ api: version, signerName: this.o.signerName }, 'ClusterTrustBundle API found; publishing the trust bundle as one');
        this.api = version;
        return version;
      } catch (err) {
        if (apiStatus(k8s, err) !== 404) throw err;
      }
    }
    if (this.api !== 'none')
      this.o.log.info(
        'ClusterTrustBundle: the API server serves no certificates.k8s.io ClusterTrustBundle (Kubernetes < 1.33, or the ClusterTrustBundle feature gate / runtime-config is off); the bundle ConfigMaps carry the trust bundle',
      );
    this.api = 'none';
    return 'none';
  }
}

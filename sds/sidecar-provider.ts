import type { SpiffeId } from '../workload-identity/index.js';
import type { JwtSvidCache } from './jwt-svid-cache.js';
import type { ManagedIdentity } from './managed-identity.js';
import type { JwtSvid, SecretProvider, SecretWatch, StreamCaller } from './secret-source.js';

/**
 * Sidecar mode (docs/architecture.md §5): one agent per pod serves the pod's one identity, obtained with the pod's
 * projected token file. Callers' tokens are ignored: the socket is the pod's own (mode 0660).
 *
 * @example const w = await new SidecarProvider(identity).watch({});
 */
export class SidecarProvider implements SecretProvider {
  constructor(
    private readonly identity: ManagedIdentity,
    /** JWT-SVIDs (docs/jwt-svid.md): the cache and how to ask the CA (with the pod's token). Absent: none. */
    private readonly jwt?: { readonly cache: JwtSvidCache; readonly sign: (audience: readonly string[]) => Promise<JwtSvid> },
  ) {}

  watch(_caller: StreamCaller, signal?: AbortSignal): Promise<SecretWatch> {
    return this.identity.watch(signal);
  }

  /** The pod's identity as the agent serves it (its X509-SVID's), then a cached or new JWT-SVID for it. */
  async fetchJwtSvid(_caller: StreamCaller, audience: readonly string[], signal?: AbortSignal): Promise<JwtSvid> {
    if (!this.jwt) throw new TypeError('SidecarProvider: no JWT-SVID signer configured');
    const w = await this.identity.watch(signal);
    let id: SpiffeId;
    try {
      id = w.current().svid.id;
    } finally {
      w.close();
    }
    const jwt = this.jwt;
    return jwt.cache.get(id, audience, () => jwt.sign(audience));
  }
}

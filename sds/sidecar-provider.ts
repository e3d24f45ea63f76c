import type { ManagedIdentity } from './managed-identity.js';
import type { SecretProvider, SecretWatch, StreamCaller } from './secret-source.js';

/**
 * Sidecar mode (DESIGN §5): one agent per pod serves the pod's one identity, obtained with the pod's
 * projected token file. Callers' tokens are ignored: the socket is the pod's own (mode 0660).
 *
 * @example const w = await new SidecarProvider(identity).watch({});
 */
export class SidecarProvider implements SecretProvider {
  constructor(private readonly identity: ManagedIdentity) {}

  watch(_caller: StreamCaller, signal?: AbortSignal): Promise<SecretWatch> {
    return this.identity.watch(signal);
  }
}

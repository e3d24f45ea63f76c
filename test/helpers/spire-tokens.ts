import { loadDevTokenIssuer } from '../../ca/index.js';
import { mintServiceAccountToken } from '../../workload-identity/index.js';

/** A service-account token from a CA directory's dev issuer (what `castellan token mint` writes). */
export async function agentFixtureToken(caDir: string, namespace: string, serviceAccount: string): Promise<string> {
  const i = await loadDevTokenIssuer(caDir);
  return mintServiceAccountToken(i.privateKey, i.kid, { issuer: i.issuer, audiences: ['castellan'], namespace, serviceAccount, ttlSeconds: 3600 });
}

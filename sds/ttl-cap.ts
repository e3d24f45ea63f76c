import { isCastellanError } from '../workload-identity/index.js';

/**
 * The CA's maximum lifetime, in ms, when `err` is the CA refusing a lifetime above it (ERR_TTL_TOO_LONG
 * on the CA side, INVALID_ARGUMENT on the wire with the maximum in the `castellan-max-ttl-seconds`
 * trailer, see CaClient). Undefined for any other error, or when the maximum is not below `requestedMs`
 * (then asking for it again would be refused again).
 *
 * @example capFromRefusal(err, 7 * 86_400_000) // 86_400_000 when the CA's maximum is one day
 */
export function capFromRefusal(err: unknown, requestedMs: number): number | undefined {
  if (!isCastellanError(err, 'ERR_CA_REFUSED')) return undefined;
  const c = err.context as { caError?: string; caMaxTtlSeconds?: number };
  if (c.caError !== 'ERR_TTL_TOO_LONG' || c.caMaxTtlSeconds === undefined) return undefined;
  const maxMs = c.caMaxTtlSeconds * 1000;
  return maxMs >= 1000 && maxMs < requestedMs ? maxMs : undefined;
}

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

/**
 * The lifetime an agent asks the CA for: the configured ttl until the CA refuses it and names its
 * maximum, then that maximum. One per agent, shared by every identity it keeps (the sidecar's, or every
 * pod's in node mode), so what one refusal taught holds for all of them.
 *
 * @example const ttl = new RequestedTtl(86_400_000); sign({ ttlSeconds: ttl.seconds }).catch((err) => ttl.learnFrom(err));
 */
export class RequestedTtl {
  private currentMs: number;

  constructor(readonly configuredMs: number) {
    this.currentMs = configuredMs;
  }

  /** What to ask for now, ms. */
  get ms(): number {
    return this.currentMs;
  }

  /** What to ask for now, whole seconds (the wire's unit), at least 1. */
  get seconds(): number {
    return Math.max(1, Math.round(this.currentMs / 1000));
  }

  /**
   * Learns the CA's maximum from its refusal of a request that asked for `askedSeconds` (see
   * capFromRefusal): undefined when `err` is not such a refusal, else the maximum, ms, and whether it
   * lowered the lifetime (false when a request that went out at the same time already taught it). The
   * lifetime is never raised again before the agent restarts.
   */
  learnFrom(err: unknown, askedSeconds: number): { readonly capMs: number; readonly isNew: boolean } | undefined {
    const capMs = capFromRefusal(err, askedSeconds * 1000);
    if (capMs === undefined) return undefined;
    const isNew = capMs < this.currentMs;
    if (isNew) this.currentMs = capMs;
    return { capMs, isNew };
  }
}

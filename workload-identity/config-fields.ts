import { z } from 'zod';
import { checkDuration, checkHostPort, checkPositiveDuration, type Checked } from './config-values.js';
import { SpiffeId, TrustDomain } from './spiffe-id.js';

/**
 * The CA's configuration field types for zod schemas, built on the checks of config-values.ts, which the
 * agent's configuration uses without zod: both accept and reject the same spellings with the same
 * messages (docs/architecture.md §10).
 */

/** A zod string field that `check` turns into its value or one issue with the check's message. */
const checkedField = <T>(check: (text: string) => Checked<T>) =>
  z.string().transform((s, ctx) => {
    const r = check(s);
    if (r.problem === undefined) return r.value;
    ctx.addIssue({ code: 'custom', message: r.problem });
    return z.NEVER;
  });

/** A duration such as `24h`, `90m`, `1d`, as milliseconds (checkDuration). */
export const durationField = checkedField(checkDuration);

/** A duration longer than zero (checkPositiveDuration). */
export const positiveDurationField = checkedField(checkPositiveDuration);

/** `host:port`, with an IPv6 host in brackets (checkHostPort). */
export const hostPortField = checkedField(checkHostPort);

/** A trust domain name (SPIFFE-ID §2.1), checked by TrustDomain.of: the same rule as everywhere else. */
export const trustDomainField = z.string().superRefine((s, ctx) => {
  try {
    TrustDomain.of(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `want a trust domain: lower-case letters, digits, ".", "_", "-" (SPIFFE-ID §2.1): ${(err as Error).message}` });
  }
});

/** A SPIFFE ID with a path (SPIFFE-ID §2), checked by SpiffeId.parse: a value the CA compares must be one it can match. */
export const spiffeIdWithPathField = z.string().superRefine((s, ctx) => {
  try {
    if (SpiffeId.parse(s).path === '') ctx.addIssue({ code: 'custom', message: 'want a SPIFFE ID with a path, e.g. spiffe://example.org/ns/castellan-system/sa/castellan-admin' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `want a SPIFFE ID with a path: ${(err as Error).message}` });
  }
});

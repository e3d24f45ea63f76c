import { z } from 'zod';
import { parseDuration } from './duration.js';
import { SpiffeId, TrustDomain } from './spiffe-id.js';

/**
 * Field types shared by the CA's and the agent's configuration files, so both accept and reject the
 * same spellings with the same messages (docs/architecture.md §10).
 */

/** A duration such as `24h`, `90m`, `1d`, as milliseconds. */
export const durationField = z.string().transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration (want e.g. "24h", "90m")` });
    return z.NEVER;
  }
});

/**
 * A duration longer than zero, for intervals and lifetimes where 0 would mean a busy loop (a poll or
 * retry every tick) or something that expires as it is made.
 */
export const positiveDurationField = durationField.refine((ms) => ms > 0, 'must be longer than 0');

/** `host:port`, with an IPv6 host in brackets. */
export const hostPortField = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'want host:port, e.g. 127.0.0.1:15012')
  // Only said of an otherwise well-formed address (the pattern's message covers the rest).
  .refine((s) => !/:\d{1,5}$/.test(s) || Number(s.slice(s.lastIndexOf(':') + 1)) <= 65_535, 'the port must be at most 65535');

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

import { z } from 'zod';
import { parseDuration } from './duration.js';

/**
 * Field types shared by the CA's and the agent's configuration files, so both accept and reject the
 * same spellings with the same messages (DESIGN §10).
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

/** `host:port`, with an IPv6 host in brackets. */
export const hostPortField = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'want host:port, e.g. 127.0.0.1:15012');

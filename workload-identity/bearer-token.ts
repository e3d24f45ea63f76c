/**
 * The token of an `authorization` header value `Bearer <token>` (RFC 6750 §2.1: the scheme is
 * case-insensitive, one token68 follows). Undefined for an empty value, another scheme, or more than one
 * word: a credential that is present but not a bearer token is the caller's to hear about as malformed.
 *
 * @example bearerToken('Bearer eyJhbGciOi...') // 'eyJhbGciOi...'
 */
export function bearerToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return m ? m[1] : undefined;
}

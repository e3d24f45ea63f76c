import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpiffeId, TrustDomain } from '../../workload-identity/index.js';
import { expectCoded, fuzzParams, outcomeOf, reachesCiCount } from '../helpers/fuzz.js';

/**
 * Fuzzing of the SPIFFE ID parser (workload-identity/spiffe-id.ts, spiffe-id-syntax.ts) against an
 * oracle written here from the SPIFFE-ID spec, not from the parser (docs/fuzzing.md). The oracle lists
 * every rule a string breaks; the parser must accept exactly the strings that break none, and refuse the
 * others with the code of one of the rules they break.
 */

const PREFIX = 'spiffe://';
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** SPIFFE-ID §2.1: a trust domain is lower-case letters, digits, ".", "-" and "_". */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** SPIFFE-ID §2.2: a path segment is letters of both cases, digits, ".", "-" and "_". */
const SEGMENT = /^[a-zA-Z0-9._-]+$/;

/** The rules of SPIFFE-ID §2 a trust domain name breaks, as the parser's codes. */
function trustDomainViolations(td: string): Set<string> {
  const v = new Set<string>();
  if (td === '') v.add('ERR_SPIFFE_ID_TRUST_DOMAIN_EMPTY');
  // §2.1: the authority is a host only: no userinfo, no port (not even an empty ":").
  if (td.includes('@')) v.add('ERR_SPIFFE_ID_USERINFO');
  if (td.includes(':')) v.add('ERR_SPIFFE_ID_PORT');
  // §2.3: at most 255 bytes.
  if (bytes(td) > 255) v.add('ERR_SPIFFE_ID_TRUST_DOMAIN_TOO_LONG');
  // §2.1/§2.2: never percent-encoded.
  if (td.includes('%')) v.add('ERR_SPIFFE_ID_PERCENT_ENCODING');
  if (td !== '' && !TRUST_DOMAIN.test(td)) v.add('ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR');
  return v;
}

/** The rules a path (`''` or `/seg/seg`) breaks. */
function pathViolations(path: string): Set<string> {
  const v = new Set<string>();
  if (path === '') return v;
  if (!path.startsWith('/')) v.add('ERR_SPIFFE_ID_PATH_NO_LEADING_SLASH');
  // §2.2: no trailing "/", no empty segment, no "." or ".." segment, only the segment characters.
  if (path.endsWith('/')) v.add('ERR_SPIFFE_ID_TRAILING_SLASH');
  const segments = path.split('/').slice(1);
  if (segments.slice(0, -1).some((s) => s === '')) v.add('ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT');
  if (segments.some((s) => s === '.' || s === '..')) v.add('ERR_SPIFFE_ID_PATH_DOT_SEGMENT');
  if (path.includes('%')) v.add('ERR_SPIFFE_ID_PERCENT_ENCODING');
  if (segments.some((s) => s !== '' && !SEGMENT.test(s))) v.add('ERR_SPIFFE_ID_PATH_CHAR');
  return v;
}

/** The rules one path segment breaks on its own (a "/" in it is a character it may not hold). */
function segmentRuleViolations(segment: string): Set<string> {
  const v = new Set<string>();
  if (segment === '') v.add('ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT');
  if (segment === '.' || segment === '..') v.add('ERR_SPIFFE_ID_PATH_DOT_SEGMENT');
  if (segment.includes('%')) v.add('ERR_SPIFFE_ID_PERCENT_ENCODING');
  if (segment !== '' && !SEGMENT.test(segment)) v.add('ERR_SPIFFE_ID_PATH_CHAR');
  return v;
}

/** Every rule of SPIFFE-ID §2 that `s` breaks (none: a valid ID), with the parts it splits into. */
function idViolations(s: string): { violations: Set<string>; td: string; path: string } {
  const v = new Set<string>();
  if (s === '') v.add('ERR_SPIFFE_ID_EMPTY');
  // §2.3: 2048 bytes at most, scheme included.
  if (bytes(s) > 2048) v.add('ERR_SPIFFE_ID_TOO_LONG');
  // §2: the scheme is "spiffe", lower case, followed by "://".
  if (!s.startsWith(PREFIX)) {
    v.add('ERR_SPIFFE_ID_SCHEME');
    return { violations: v, td: '', path: '' };
  }
  const rest = s.slice(PREFIX.length);
  // §2: no query, no fragment.
  if (rest.includes('?')) v.add('ERR_SPIFFE_ID_QUERY');
  if (rest.includes('#')) v.add('ERR_SPIFFE_ID_FRAGMENT');
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  for (const x of trustDomainViolations(td)) v.add(x);
  for (const x of pathViolations(path)) v.add(x);
  return { violations: v, td, path };
}

const tdChar = fc.constantFrom(...'abcxyz0189.-_');
const pathChar = fc.constantFrom(...'abcXYZ0189.-_');
const oddChar = fc.constantFrom(
  'A',
  'Z',
  '%',
  '%2F',
  '%2e',
  ':',
  ':443',
  '@',
  '?',
  '#',
  '/',
  '//',
  ' ',
  '\t',
  '\n',
  '\u0000',
  'é',
  'ß',
  'İ',
  '\u00a0',
  '\ud800',
  '\udc00',
  '😀',
  '[',
  ']',
  '\\',
  '+',
  '~',
  '!',
  '$',
  '*',
  ',',
  ';',
  '=',
);
const piece = (char: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: char, minLength: 1, maxLength: 12 }) },
    { weight: 2, arbitrary: oddChar },
    { weight: 1, arbitrary: fc.constantFrom('.', '..', '...', '') },
    { weight: 1, arbitrary: fc.integer({ min: 240, max: 270 }).map((n) => 'a'.repeat(n)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  );
const trustDomain = fc.oneof(
  { weight: 5, arbitrary: fc.array(piece(tdChar), { maxLength: 4 }).map((p) => p.join('')) },
  // Around the 255-byte limit of §2.3, in one- and multi-byte characters.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 250, max: 260 }), fc.constantFrom('a', 'é', '.')).map(([n, c]) => c.repeat(n).slice(0, n)) },
);
const path = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(
        piece(pathChar).map((s) => `/${s}`),
        { maxLength: 6 },
      )
      .map((s) => s.join('')),
  },
  { weight: 1, arbitrary: fc.array(piece(pathChar), { maxLength: 4 }).map((s) => s.join('/')) },
);
const scheme = fc.constantFrom(
  PREFIX,
  PREFIX,
  PREFIX,
  PREFIX,
  'SPIFFE://',
  'Spiffe://',
  'spiffe:/',
  'spiffe:',
  'spiffe:///',
  'spiffe//',
  'https://',
  '',
  ' spiffe://',
  'spiffe://spiffe://',
  'spiffe\u0000://',
);
/** Strings near the grammar: a scheme variant, a trust domain, a path, maybe a tail. */
const nearId = fc.tuple(scheme, trustDomain, path, fc.constantFrom('', '', '', '/', '?q=1', '#f', ':80', '%20', '\n')).map(([s, td, p, tail]) => s + td + p + tail);
/** IDs of exactly 2040–2056 bytes, across the §2.3 limit. */
const nearLimit = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2040, max: 2056 }), fc.integer({ min: 1, max: 300 })).map(([tdLength, total, segment]) => {
  const td = 'a'.repeat(tdLength);
  let p = '';
  while (PREFIX.length + td.length + p.length < total) {
    const room = total - (PREFIX.length + td.length + p.length) - 1;
    p += `/${'b'.repeat(Math.max(1, Math.min(segment, room)))}`;
  }
  return PREFIX + td + p;
});
const anyId = fc.oneof({ weight: 6, arbitrary: nearId }, { weight: 1, arbitrary: nearLimit }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) });

describe('SPIFFE ID parser fuzzing (workload-identity/spiffe-id.ts) against an oracle from SPIFFE-ID §2', () => {
  it('ok/the oracle agrees with hand-checked cases', () => {
    expect(idViolations('spiffe://cluster.local/ns/a/sa/b').violations.size).toBe(0);
    expect(idViolations('spiffe://td').violations.size).toBe(0);
    expect([...idViolations('spiffe://TD/x/').violations].sort()).toEqual(['ERR_SPIFFE_ID_TRAILING_SLASH', 'ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR']);
    expect([...idViolations('spiffe://td//x').violations]).toEqual(['ERR_SPIFFE_ID_PATH_EMPTY_SEGMENT']);
    expect([...idViolations('spiffe://td/./x').violations]).toEqual(['ERR_SPIFFE_ID_PATH_DOT_SEGMENT']);
  });

  it('ok/SpiffeId.parse accepts exactly what the oracle accepts; an accepted ID round-trips and rebuilds from its parts', () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyId, (s) => {
        const { violations, td, path } = idViolations(s);
        const out = outcomeOf(() => SpiffeId.parse(s));
        if (!out.ok) {
          expect(violations.size, `refused ${JSON.stringify(s)} though the spec allows it`).toBeGreaterThan(0);
          expectCoded(out.error, [...violations]);
          return;
        }
        accepted++;
        expect([...violations], `accepted ${JSON.stringify(s)}`).toEqual([]);
        const id = out.value;
        expect(id.toString()).toBe(s);
        expect(id.trustDomain.name).toBe(td);
        expect(id.path).toBe(path);
        expect(SpiffeId.parse(id.toString()).equals(id)).toBe(true);
        expect(TrustDomain.of(td).equals(id.trustDomain)).toBe(true);
        expect(SpiffeId.fromPath(id.trustDomain, path).toString()).toBe(s);
        expect(SpiffeId.fromSegments(id.trustDomain, ...(path === '' ? [] : path.split('/').slice(1))).toString()).toBe(s);
        if (path === '') expect(TrustDomain.fromIdString(s).name).toBe(td);
        else expect(outcomeOf(() => TrustDomain.fromIdString(s))).toMatchObject({ ok: false, error: { code: 'ERR_SPIFFE_ID_UNEXPECTED_PATH' } });
      }),
      fuzzParams(4000),
    );
    // The generator must reach both sides of the grammar, or the property says little.
    if (reachesCiCount(4000)) expect(accepted).toBeGreaterThan(0);
  });

  it('ok/TrustDomain.of accepts exactly the names the oracle accepts', () => {
    const name = fc.oneof(trustDomain, fc.constantFrom('spiffe://td', 'td/x', 'a://b'), fc.string({ unit: 'binary', maxLength: 20 }));
    fc.assert(
      fc.property(name, (td) => {
        const violations = trustDomainViolations(td);
        // A name with "://" is a SPIFFE ID passed where a bare name is wanted: its characters are refused.
        if (td.includes('://')) violations.add('ERR_SPIFFE_ID_TRUST_DOMAIN_CHAR');
        const out = outcomeOf(() => TrustDomain.of(td));
        if (!out.ok) {
          expect(violations.size, `refused ${JSON.stringify(td)}`).toBeGreaterThan(0);
          expectCoded(out.error, [...violations]);
          return;
        }
        expect([...violations], `accepted ${JSON.stringify(td)}`).toEqual([]);
        expect(out.value.name).toBe(td);
        expect(out.value.idString()).toBe(PREFIX + td);
      }),
      fuzzParams(2000),
    );
  });

  it('ok/SpiffeId.fromSegments and fromPath accept exactly the paths the oracle accepts', () => {
    const td = TrustDomain.of('example.org');
    fc.assert(
      fc.property(fc.array(piece(pathChar), { maxLength: 5 }), path, (segments, p) => {
        const joined = segments.map((s) => `/${s}`).join('');
        const segmentViolations = new Set(segments.flatMap((s) => [...segmentRuleViolations(s)]));
        // §2.3 counts the whole ID.
        if (bytes(td.idString() + joined) > 2048) segmentViolations.add('ERR_SPIFFE_ID_TOO_LONG');
        const bySegments = outcomeOf(() => SpiffeId.fromSegments(td, ...segments));
        if (bySegments.ok) {
          expect([...segmentViolations], `accepted segments ${JSON.stringify(segments)}`).toEqual([]);
          expect(bySegments.value.path).toBe(joined);
        } else {
          expect(segmentViolations.size, `refused segments ${JSON.stringify(segments)}`).toBeGreaterThan(0);
          expectCoded(bySegments.error, [...segmentViolations]);
        }

        const pv = pathViolations(p);
        if (bytes(td.idString() + p) > 2048) pv.add('ERR_SPIFFE_ID_TOO_LONG');
        const byPath = outcomeOf(() => SpiffeId.fromPath(td, p));
        if (byPath.ok) {
          expect([...pv], `accepted path ${JSON.stringify(p)}`).toEqual([]);
          expect(byPath.value.toString()).toBe(td.idString() + p);
        } else {
          expect(pv.size, `refused path ${JSON.stringify(p)}`).toBeGreaterThan(0);
          expectCoded(byPath.error, [...pv]);
        }
      }),
      fuzzParams(2000),
    );
  });

  it('fail/anything that is not a string is a TypeError (programmer misuse), never a coded error or a crash elsewhere', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== 'string'),
        (v) => {
          expect(() => SpiffeId.parse(v as string)).toThrow(TypeError);
          expect(() => TrustDomain.of(v as string)).toThrow(TypeError);
        },
      ),
      fuzzParams(300),
    );
  });
});

// The small values every folder parses at its edges, in one place each: PEM, host:port, bearer tokens.
import { describe, expect, it } from 'vitest';
import { bearerToken, isIpLiteral, parseHostPort, pemDecode, pemEncode } from '../../workload-identity/index.js';

describe('pem', () => {
  it('ok/encode then decode gives the bytes back, 64-character lines, several blocks in order, text between ignored', () => {
    const a = Buffer.alloc(100, 1);
    const b = Buffer.alloc(3, 2);
    const text = `subject=CN=x\n${pemEncode(a, 'CERTIFICATE')}junk\n${pemEncode(b, 'CERTIFICATE')}`;
    expect(pemEncode(a, 'CERTIFICATE').split('\n')[1]).toHaveLength(64);
    expect(pemDecode(text, 'CERTIFICATE')).toEqual([a, b]);
    expect(pemDecode(text, 'PRIVATE KEY')).toEqual([]);
  });
  it('fail/a block whose body is not base64 throws', () => {
    expect(() => pemDecode('-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n', 'CERTIFICATE')).toThrow(/not base64/);
  });
  it('fail/Unicode whitespace in a body (U+FEFF, U+2028, no-break space) is not base64; ASCII whitespace is', () => {
    const body = pemEncode(Buffer.alloc(60, 7), 'CERTIFICATE');
    for (const odd of ['\ufeff', '\u2028', '\u00a0']) expect(() => pemDecode(body.replace('\n', `\n${odd}`), 'CERTIFICATE'), JSON.stringify(odd)).toThrow(/not base64/);
    expect(pemDecode(body.replace(/\n/g, '\r\n\t'), 'CERTIFICATE')).toEqual([Buffer.alloc(60, 7)]);
  });
});

describe('host:port', () => {
  const cases: [string, string, number, boolean][] = [
    ['127.0.0.1:15012', '127.0.0.1', 15012, true],
    ['[::1]:443', '::1', 443, true],
    ['castellan.castellan-system.svc:15012', 'castellan.castellan-system.svc', 15012, false],
  ];
  for (const [text, host, port, ip] of cases) {
    it(`ok/${text}`, () => {
      expect(parseHostPort(text)).toEqual({ host, port });
      expect(isIpLiteral(host)).toBe(ip);
    });
  }
});

describe('bearer token (RFC 6750 §2.1)', () => {
  const cases: [string, string | undefined, string | undefined][] = [
    ['ok/Bearer', 'Bearer abc.def', 'abc.def'],
    ['ok/the scheme is case-insensitive, trailing blanks allowed', 'bEaReR abc \t', 'abc'],
    ['fail/another scheme', 'Basic abc', undefined],
    ['fail/two words after the scheme', 'Bearer a b', undefined],
    ['fail/no token', 'Bearer ', undefined],
    ['fail/absent', undefined, undefined],
  ];
  for (const [name, value, token] of cases) it(name, () => expect(bearerToken(value)).toBe(token));
});

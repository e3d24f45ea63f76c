import { describe, expect, it } from 'vitest';
import { ipAddressOctets } from '../../ca/ip-address.js';

describe('ipAddressOctets (RFC 5280 §4.2.1.6 iPAddress)', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '7f000001'],
    ['10.96.0.15', '0a60000f'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['fd00::15', 'fd000000000000000000000000000015'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
    ['2001:DB8::8:800:200C:417A', '20010db80000000000080800200c417a'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['::ffff:192.0.2.128', '00000000000000000000ffffc0000280'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ];
  for (const [ip, hex] of cases) it(`ok/${ip}`, () => expect(ipAddressOctets(ip).toString('hex')).toBe(hex));

  for (const bad of ['localhost', '256.1.1.1', '1.2.3', '[::1]', 'fe80::1%eth0', '::1:15012:x', '']) {
    it(`fail/${JSON.stringify(bad)}`, () => expect(() => ipAddressOctets(bad)).toThrow(TypeError));
  }
});

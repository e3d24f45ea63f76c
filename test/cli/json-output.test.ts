import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCa } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { reportAgent } from '../helpers/rotation.js';
import { tempDir } from '../helpers/test-ca.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/cart';

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(() => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
});
afterEach(() => t.cleanup());

/** The one JSON line a failed command with --output json prints on stderr. */
function jsonError(err: string): { code: string; message: string } {
  const lines = err.trim().split('\n');
  expect(lines).toHaveLength(1);
  const e = JSON.parse(lines[0]!) as { error: { code: string; message: string } };
  expect(Object.keys(e)).toEqual(['error']);
  return e.error;
}

describe('--output json on the commands scripts call', () => {
  it('ok/ca init, ca mint and token mint print one JSON object describing what they made', async () => {
    const init = await cli(['ca', 'init', '--dir', dir, '--output', 'json']);
    expect(init.code, init.err).toBe(0);
    const ca = await loadCa(dir);
    expect(JSON.parse(init.out)).toEqual({
      dir,
      trustDomain: 'cluster.local',
      keyType: 'ec-p256',
      keys: 'software',
      source: 'generated',
      authority: {
        id: 1,
        root: expect.objectContaining({ serial: ca.active.root.serialHex, keyId: ca.active.root.ski.toString('hex'), notAfter: ca.active.root.notAfter.toISOString() }),
        intermediates: [],
        issuer: expect.objectContaining({ serial: ca.active.issuer.serialHex, notAfter: ca.active.issuer.notAfter.toISOString() }),
      },
      bundle: path.join(dir, 'bundle.pem'),
    });

    const out = path.join(t.dir, 'leaf');
    const mint = await cli(['ca', 'mint', '--dir', dir, '--spiffe-id', ID, '--out', out, '--ttl', '1h', '--output', 'json']);
    expect(mint.code, mint.err).toBe(0);
    const m = JSON.parse(mint.out);
    expect(m).toMatchObject({
      spiffeId: ID,
      cappedByIssuer: false,
      key: { type: 'EC P-256', generated: true },
      files: { cert: path.join(out, 'cert.pem'), key: path.join(out, 'key.pem') },
    });
    expect(m.serial).toMatch(/^[0-9a-f]+$/);
    expect(Date.parse(m.notAfter) - Date.parse(m.notBefore)).toBeGreaterThan(3_600_000);
    expect(statSync(m.files.key).mode & 0o777).toBe(0o600);

    const tok = await cli(['token', 'mint', '--dir', dir, '--namespace', 'shop', '--service-account', 'cart', '--output', 'json']);
    expect(tok.code, tok.err).toBe(0);
    const j = JSON.parse(tok.out);
    expect(j).toMatchObject({ subject: 'system:serviceaccount:shop:cart', audiences: ['castellan'] });
    expect(j.token.split('.')).toHaveLength(3);
    expect(j.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(j.expiresAt)).toBeGreaterThan(Date.now() + 3_500_000);
    const toFile = JSON.parse(
      (await cli(['token', 'mint', '--dir', dir, '--namespace', 'shop', '--service-account', 'cart', '--out', path.join(t.dir, 'tok'), '--output', 'json'])).out,
    );
    expect(toFile.token).toBeUndefined();
    expect(toFile.file).toBe(path.join(t.dir, 'tok'));
  });

  it('ok/root prepare, activate and retire print {step, message, warnings, status}', async () => {
    expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
    const prep = JSON.parse((await cli(['root', 'prepare', '--dir', dir, '--output', 'json'])).out);
    expect(prep).toMatchObject({ step: 'prepare', warnings: [], status: { phase: 'prepared', bundleSequence: 2 } });
    await reportAgent(dir, 2);
    const act = JSON.parse((await cli(['root', 'activate', '--dir', dir, '--output', 'json'])).out);
    expect(act).toMatchObject({ step: 'activate', status: { phase: 'activated' } });
    const ret = await cli(['root', 'retire', '--dir', dir, '--output', 'json']);
    expect(ret.code, ret.err).toBe(0);
    expect(JSON.parse(ret.out)).toMatchObject({ step: 'retire', status: { phase: 'idle' } });
  });
});

describe('errors with --output json: one line {"error":{"code","message"}} on stderr, exit codes unchanged', () => {
  it('fail/wrong usage (exit 2, ERR_USAGE), from commander and from the command', async () => {
    const unknown = await cli(['ca', 'init', '--dir', dir, '--bogus', '--output', 'json']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toBe('');
    expect(jsonError(unknown.err)).toEqual({ code: 'ERR_USAGE', message: "unknown option '--bogus'" });
    const badValue = await cli(['ca', 'init', '--dir', dir, '--key-type', 'dsa', '--output=json']);
    expect(badValue.code).toBe(2);
    expect(jsonError(badValue.err).code).toBe('ERR_USAGE');
    const nowhere = await cli(['root', 'status', '--output', 'json']);
    expect(nowhere.code).toBe(2);
    expect(jsonError(nowhere.err)).toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining('say where') });
  });

  it('fail/the command failed (exit 1) or a gate refused (exit 3): the stable ERR_* code', async () => {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'main.ts'), 'source');
    const nonEmpty = await cli(['ca', 'init', '--dir', dir, '--output', 'json']);
    expect(nonEmpty.code).toBe(1);
    expect(jsonError(nonEmpty.err).code).toMatch(/^ERR_CA_/);

    const other = path.join(t.dir, 'ca2');
    expect((await cli(['ca', 'init', '--dir', other])).code).toBe(0);
    const tooLong = await cli(['ca', 'mint', '--dir', other, '--spiffe-id', ID, '--ttl', '30d', '--out', path.join(t.dir, 'x'), '--output', 'json']);
    expect(tooLong.code).toBe(1);
    expect(jsonError(tooLong.err)).toMatchObject({ code: 'ERR_TTL_TOO_LONG' });

    expect((await cli(['root', 'prepare', '--dir', other])).code).toBe(0);
    const gate = await cli(['root', 'activate', '--dir', other, '--output', 'json']);
    expect(gate.code).toBe(3);
    expect(gate.out).toBe('');
    expect(jsonError(gate.err)).toMatchObject({ code: 'ERR_ROTATION_GATE', message: expect.stringContaining('--force') });

    const missing = await cli(['audit', 'show', '--dir', other, '99999', '--output', 'json']);
    expect(missing.code).toBe(1);
    expect(jsonError(missing.err).code).toBe('ERR_LEDGER_NOT_FOUND');
  });

  it('ok/without --output json errors stay one readable line', async () => {
    const r = await cli(['ca', 'init', '--dir', dir, '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("castellan: unknown option '--bogus'\n");
  });
});

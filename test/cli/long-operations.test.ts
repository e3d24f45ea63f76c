import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCa, openLedger } from '../../ca/index.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(async () => {
  t = tempDir();
  dir = path.join(t.dir, 'ca');
  expect((await cli(['ca', 'init', '--dir', dir])).code).toBe(0);
});
afterEach(() => t.cleanup());

/** Appends `n` lifecycle records to the CA directory's ledger (with its checkpoints). */
async function fill(n: number): Promise<number> {
  const ca = await loadCa(dir);
  const ledger = await openLedger({ dir, witness: ca.store.witness, ...(ca.ledgerGenesis ? { genesis: ca.ledgerGenesis } : {}), authority: () => ca.active });
  const all = [];
  for (let i = 0; i < n; i++) all.push(ledger.appendLifecycle('test-record', { i }));
  await Promise.all(all);
  await ledger.close();
  const list = JSON.parse((await cli(['audit', 'list', '--dir', dir, '--limit', '1', '--output', 'json'])).out) as { seq: number }[];
  return list[0]!.seq;
}

describe('audit export: stdout backpressure', () => {
  it('ok/it writes one batch, then waits until stdout drained before reading the next', async () => {
    const total = await fill(3500);
    let lines = 0;
    const waits: (() => void)[] = [];
    const exported = cli(['audit', 'export', '--dir', dir], {
      onOut: (s) => void (lines += s.split('\n').length - 1),
      drained: () => new Promise<boolean>((resolve) => waits.push(() => resolve(true))),
    });
    const waiting = async (n: number) => {
      for (let i = 0; i < 500 && waits.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(waits).toHaveLength(n);
    };
    await waiting(1);
    // The reader has not taken the first batch: nothing more was read or written.
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toBe(1000);
    waits[0]!();
    await waiting(2);
    expect(lines).toBe(2000);
    // Then batch by batch, each after the reader took the one before.
    for (let i = 1; lines < total; i++) {
      waits[i]!();
      await waiting(i + 2);
      expect(lines).toBe(Math.min(total, (i + 2) * 1000));
    }
    waits[waits.length - 1]!();
    const r = await exported;
    expect(r.code).toBe(0);
    expect(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('ok/a reader that went away ends the export (exit 0) instead of reading the whole ledger', async () => {
    await fill(3500);
    let lines = 0;
    const r = await cli(['audit', 'export', '--dir', dir], { onOut: (s) => void (lines += s.split('\n').length - 1), drained: async () => false });
    expect(r.code).toBe(0);
    expect(lines).toBe(1000);
  });
});

describe('progress of long operations: on a terminal only', () => {
  it('ok/audit verify and audit export show progress on stderr when it is a terminal, and clear it', async () => {
    const total = await fill(2500);
    const v = await cli(['audit', 'verify', '--dir', dir], { tty: true });
    expect(v.code, v.err).toBe(0);
    expect(v.err).toContain(`\r\x1b[Kaudit verify: ${total.toLocaleString('en')} of ${total.toLocaleString('en')} (100%)`);
    expect(v.err.endsWith('\r\x1b[K')).toBe(true);
    expect(v.out).toContain('OK: the ledger is intact');
    const e = await cli(['audit', 'export', '--dir', dir], { tty: true });
    expect(e.err).toContain(`audit export: ${total.toLocaleString('en')} of ${total.toLocaleString('en')} (100%)`);
    expect(e.out.trim().split('\n')).toHaveLength(total);
  });

  it('fail/not a terminal: no progress at all (pipes, files, scripts)', async () => {
    await fill(2500);
    expect((await cli(['audit', 'verify', '--dir', dir])).err).toBe('');
    expect((await cli(['audit', 'export', '--dir', dir])).err).toBe('');
    expect((await cli(['ca', 'init', '--dir', path.join(t.dir, 'rsa'), '--key-type', 'rsa-2048'])).err).toBe('');
  });

  it('ok/ca init says which key it is generating before the (blocking) generation', async () => {
    const r = await cli(['ca', 'init', '--dir', path.join(t.dir, 'rsa'), '--key-type', 'rsa-2048'], { tty: true });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('ca init: generating the root key (rsa-2048), 1 of 2; RSA keys take a few seconds…');
    expect(r.err).toContain('ca init: generating the intermediate key (rsa-2048), 2 of 2');
    expect(r.err.endsWith('\r\x1b[K')).toBe(true);
  });

  it('ok/the real process: stderr piped is no terminal, so export prints records only', async () => {
    const total = await fill(1500);
    const child = spawn(process.execPath, [path.resolve('bin/castellan.js'), 'audit', 'export', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.trim().split('\n')).toHaveLength(total);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { initCa, Issuer, type CaDirectory, type IssuerOptions, type KeyType } from '../../ca/index.js';
import { TrustDomain } from '../../workload-identity/index.js';

/** A temp directory removed by `cleanup`. */
export function tempDir(prefix = 'castellan-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real CA built with Castellan's own code in a temp directory (go-spiffe's test CA, in spirit). */
export async function testCa(
  o: { keyType?: KeyType; trustDomain?: string; now?: Date; rootTtlMs?: number; intermediateTtlMs?: number; issuer?: Partial<IssuerOptions> } = {},
): Promise<{
  dir: string;
  ca: CaDirectory;
  issuer: Issuer;
  cleanup: () => void;
}> {
  const t = tempDir();
  const ca = await initCa({
    dir: path.join(t.dir, 'ca'),
    trustDomain: TrustDomain.of(o.trustDomain ?? 'cluster.local'),
    ...(o.keyType ? { keyType: o.keyType } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.rootTtlMs ? { rootTtlMs: o.rootTtlMs } : {}),
    ...(o.intermediateTtlMs ? { intermediateTtlMs: o.intermediateTtlMs } : {}),
  });
  const issuer = new Issuer({ authority: ca.active, ...(o.issuer ?? {}) });
  return { dir: t.dir, ca, issuer, cleanup: t.cleanup };
}

/** Runs openssl with arguments; returns status and output. */
export function openssl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `openssl req` with a new P-256 key written to `keyOut`: a self-signed certificate (`x509: true`) or
 * a CSR, to `out`, for `subj`, with `extra` arguments (`-days`, `-addext` ...); returns openssl's result.
 *
 * @example opensslNewEcKey({ x509: true, keyOut: 'ca.key', out: 'ca.pem', subj: '/CN=test', extra: ['-days', '1'] })
 */
export function opensslNewEcKey(o: { x509: boolean; keyOut: string; out: string; subj: string; extra?: readonly string[] }): {
  status: number;
  stdout: string;
  stderr: string;
} {
  return openssl([
    'req',
    ...(o.x509 ? ['-x509'] : []),
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    o.keyOut,
    '-out',
    o.out,
    '-subj',
    o.subj,
    ...(o.extra ?? []),
  ]);
}

/** `openssl verify -x509_strict` of a leaf against a root file with untrusted intermediates. */
export function opensslVerify(dir: string, leafPem: string, chainPem: readonly string[]): { status: number; stdout: string; stderr: string } {
  const root = chainPem[chainPem.length - 1]!;
  const intermediates = chainPem.slice(0, -1).join('');
  const files = { leaf: path.join(dir, 'v-leaf.pem'), root: path.join(dir, 'v-root.pem'), mid: path.join(dir, 'v-mid.pem') };
  writeFileSync(files.leaf, leafPem);
  writeFileSync(files.root, root);
  writeFileSync(files.mid, intermediates);
  const args = ['verify', '-x509_strict', '-CAfile', files.root, ...(intermediates ? ['-untrusted', files.mid] : []), files.leaf];
  return openssl(args);
}

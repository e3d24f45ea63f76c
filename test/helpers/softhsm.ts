import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './test-ca.js';

// Debian's softhsm2 package (installed by .ci/run); the other paths are where other distributions put it.
const MODULE_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** The SoftHSM2 PKCS#11 module, or undefined when SoftHSM2 is not installed. */
export const SOFTHSM_MODULE: string | undefined = MODULE_PATHS.find((p) => existsSync(p));

/** Why the SoftHSM2 tests cannot run here, or undefined when they can. */
export function softHsmMissing(): string | undefined {
  if (!SOFTHSM_MODULE) return `SoftHSM2 is not installed (no libsofthsm2.so in ${MODULE_PATHS.join(', ')}); apt-get install softhsm2`;
  if (spawnSync('softhsm2-util', ['--version']).error) return 'SoftHSM2 is not installed (softhsm2-util is not on PATH); apt-get install softhsm2';
  return undefined;
}

export interface TestToken {
  readonly label: string;
  readonly pin: string;
  /** A 0600 file holding the PIN. */
  readonly pinFile: string;
}

export interface SoftHsm {
  readonly dir: string;
  readonly module: string;
  /** The SOFTHSM2_CONF file (already set in this process's environment). */
  readonly conf: string;
  readonly tokens: Readonly<Record<string, TestToken>>;
  cleanup(): void;
}

/**
 * Throwaway SoftHSM2 tokens in a temp directory. SoftHSM reads its configuration and its token directory
 * when the module is initialized, so every token a test file needs is made here, before any provider
 * loads the module, and SOFTHSM2_CONF is pointed at this directory for the rest of the process.
 */
export function createSoftHsm(labels: readonly string[]): SoftHsm {
  if (!SOFTHSM_MODULE) throw new Error(softHsmMissing());
  const t = tempDir('castellan-softhsm-');
  const conf = path.join(t.dir, 'softhsm2.conf');
  const tokenDir = path.join(t.dir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const tokens: Record<string, TestToken> = {};
  for (const [i, label] of labels.entries()) {
    const pin = `pin-${i}-${randomBytes(6).toString('hex')}`;
    const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `so-${pin}`], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`softhsm2-util --init-token ${label} failed: ${r.stderr}${r.stdout}`);
    const pinFile = path.join(t.dir, `pin-${i}`);
    writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
    tokens[label] = { label, pin, pinFile };
  }
  return { dir: t.dir, module: SOFTHSM_MODULE, conf, tokens, cleanup: t.cleanup };
}

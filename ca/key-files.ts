import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { caError } from './errors.js';

/**
 * Writes a file atomically: a sibling temp file created with `mode` (never wider, whatever the umask
 * does), fsynced, renamed over the target, and the directory fsynced, so a crash leaves either the old
 * file or the new one, never a torn key.
 *
 * @example await writeFileAtomic('/etc/castellan/ca-key.pem', pem, 0o600);
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    await handle.chmod(mode); // open() applies the umask; the mode we promise is exact
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Writes a private key as PKCS#8 PEM, 0600, atomically. */
export async function writePrivateKeyFile(file: string, key: KeyObject): Promise<void> {
  await writeFileAtomic(file, key.export({ format: 'pem', type: 'pkcs8' }) as string, 0o600);
}

/**
 * Reads the text of a PEM private key file. By default refuses a key file that group or others can
 * read, as ssh does: a CA key readable by others is already compromised.
 */
export async function readPrivateKeyText(file: string, options: { checkMode?: boolean } = {}): Promise<string> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (cause) {
    throw caError('ERR_KEY_FILE', `keys: cannot read key file ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  // Files we wrote must still be 0600; foreign inputs (a mounted Secret, --from-cacerts) may be 0644.
  if ((options.checkMode ?? true) && (stat.mode & 0o077) !== 0) {
    throw caError('ERR_KEY_FILE', `keys: ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 ${file}`);
  }
  return fs.readFile(file, 'utf8');
}

/** Parses a PEM private key (PKCS#8, SEC1 or PKCS#1); `where` names it in the error. */
export function parsePrivateKeyPem(pem: string, where: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw caError('ERR_KEY_FILE', `keys: ${where} does not hold a PEM private key (encrypted keys are not supported)`, { cause });
  }
}

/**
 * Reads a PEM private key (PKCS#8, SEC1 or PKCS#1). By default refuses a key file that group or others
 * can read (see readPrivateKeyText).
 */
export async function readPrivateKeyFile(file: string, options: { checkMode?: boolean } = {}): Promise<KeyObject> {
  return parsePrivateKeyPem(await readPrivateKeyText(file, options), file);
}

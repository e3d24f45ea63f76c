import { promises as fs } from 'node:fs';
import path from 'node:path';
import { STATE_FILE } from '../ca-state.js';
import { caError } from '../errors.js';
import { LEDGER_FILE, LEDGER_HEAD_FILE } from '../ledger/index.js';

/** Files whose replacement by someone else would change what the CA trusts or what it remembers. */
const GUARDED = [STATE_FILE, LEDGER_FILE, LEDGER_HEAD_FILE, 'authorities', 'token-issuer', 'agents'];

/**
 * The check every command runs before it trusts a CA directory (SECURITY.md, "The CA directory"): it
 * must be a directory of this user, nobody else may enter it (it is tightened to 0700 if they could),
 * and the files that hold the CA's state, keys, ledger and witness must be this user's and writable by
 * nobody else. A directory that does not exist passes (there is no CA in it yet).
 *
 * @example await checkCaDirectory('/var/lib/castellan');
 */
export async function checkCaDirectory(dir: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(dir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw caError('ERR_CA_DIR', `ca: cannot read ${dir}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  if (!st.isDirectory()) throw caError('ERR_CA_DIR', `ca: ${dir} is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw caError(
      'ERR_CA_DIR',
      `ca: ${dir} belongs to another user (uid ${st.uid}, this process runs as uid ${uid}); a CA directory must be its user's alone: chown it or run as its owner`,
      {
        context: { owner: st.uid },
      },
    );
  }
  // Group or others could enter: whatever they could already do, from now on they cannot.
  if ((st.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
  for (const name of GUARDED) {
    const file = path.join(dir, name);
    let f;
    try {
      f = await fs.lstat(file);
    } catch {
      continue;
    }
    if (f.isSymbolicLink()) throw caError('ERR_CA_DIR', `ca: ${file} is a symbolic link; the CA's files must be in its directory itself`);
    if (uid !== undefined && f.uid !== uid) {
      throw caError(
        'ERR_CA_DIR',
        `ca: ${file} belongs to another user (uid ${f.uid}); someone else wrote into the CA directory: audit it (castellan audit verify) before you chown it`,
        {
          context: { owner: f.uid },
        },
      );
    }
    if ((f.mode & 0o022) !== 0) {
      throw caError('ERR_CA_DIR', `ca: ${file} is writable by group or others (mode ${(f.mode & 0o777).toString(8)}); audit it, then chmod go-w ${file}`);
    }
  }
}

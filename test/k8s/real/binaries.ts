// Where the real kube-apiserver and etcd live: built once by test/k8s/real/build.sh into a cache outside
// the checkout (docs/testing.md, "A real Kubernetes API server").
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** The directory build.sh fills by default (its first argument or CASTELLAN_K8S_CACHE, plus `/bin`). */
export function defaultK8sBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['CASTELLAN_K8S_CACHE'] || path.join(homedir(), '.cache', 'castellan', 'k8s');
  return path.join(cache, 'bin');
}

/** True when CI demands the real API server (`CASTELLAN_REQUIRE_K8S=1`): missing binaries then fail, not skip. */
export function k8sRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['CASTELLAN_REQUIRE_K8S'] === '1';
}

/**
 * Finds `kube-apiserver` and `etcd` in `CASTELLAN_K8S_BIN`, else in {@link defaultK8sBinDir}. Returns
 * the directory, or why the tests against a real API server cannot run.
 *
 * @example const found = findK8sBinaries(); if ('skip' in found) console.warn(found.skip);
 */
export function findK8sBinaries(env: NodeJS.ProcessEnv = process.env): { binDir: string } | { skip: string } {
  const configured = env['CASTELLAN_K8S_BIN'];
  const binDir = configured || defaultK8sBinDir(env);
  const missing = ['kube-apiserver', 'etcd'].filter((b) => {
    try {
      accessSync(path.join(binDir, b), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return { binDir };
  return {
    skip:
      `no executable ${missing.join(' and ')} in ${binDir} (${configured ? 'CASTELLAN_K8S_BIN' : 'the default cache'}); ` +
      'build them once with `bash test/k8s/real/build.sh` (about 500 CPU-seconds cold) or set CASTELLAN_K8S_BIN',
  };
}

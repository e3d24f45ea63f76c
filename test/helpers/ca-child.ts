import { spawn } from 'node:child_process';
import path from 'node:path';
import type { CaServerConfig } from '../../ca/index.js';

export interface CaChild {
  readonly address: string;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
  stderr(): string;
}

const ENTRY = path.join(path.dirname(new URL(import.meta.url).pathname), 'ca-process.ts');

/** Starts test/helpers/ca-process.ts (tsx, not dist/) and resolves once it serves. */
export function spawnCa(dir: string, config: CaServerConfig = {}): Promise<CaChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, JSON.stringify({ dir, config })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        const { grpcPort } = JSON.parse(line) as { grpcPort: number };
        resolve({ address: `127.0.0.1:${grpcPort}`, pid: child.pid!, exited, kill: (s) => child.kill(s), stderr: () => err });
      }
    });
    void exited.then((code) => reject(new Error(`CA process exited (${code}) before serving:\n${err}`)));
  });
}

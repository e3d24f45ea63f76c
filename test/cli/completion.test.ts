import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/test-ca.js';

let t: ReturnType<typeof tempDir>;
let script: string;
beforeAll(async () => {
  t = tempDir();
  const r = await cli(['completion', 'bash']);
  expect(r.code, r.err).toBe(0);
  script = path.join(t.dir, 'castellan.bash');
  writeFileSync(script, r.out);
  // Something for file and directory completion to find.
  mkdirSync(path.join(t.dir, 'ca-dir'));
  writeFileSync(path.join(t.dir, 'ca.yaml'), 'listen: 127.0.0.1:15012\n');
});
afterAll(() => t.cleanup());

/** What bash completes for the words typed so far (the last one is being completed), via the sourced script. */
function complete(line: string): string[] {
  const words = line.split(' ');
  const r = spawnSync('bash', ['-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _castellan; printf '%s\\n' "\${COMPREPLY[@]}"`, script, ...words], {
    cwd: t.dir,
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('castellan completion bash', () => {
  it('ok/the script parses and registers itself', () => {
    const r = spawnSync('bash', ['-c', 'source "$0" && complete -p castellan', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('complete -o default -F _castellan castellan');
  });

  it('ok/commands and subcommands come from the command tree', () => {
    expect(complete('castellan ')).toEqual(['agent', 'audit', 'bundle', 'ca', 'cert', 'check', 'completion', 'config', 'dev', 'federation', 'root', 'token', 'version']);
    expect(complete('castellan ro')).toEqual(['root']);
    expect(complete('castellan root ')).toEqual(['activate', 'prepare', 'retire', 'rotate-intermediate', 'status']);
    expect(complete('castellan agent st')).toEqual(['status']);
    // Options of the parent before the subcommand are skipped, with their values.
    expect(complete('castellan audit --help li')).toEqual(['list']);
  });

  it('ok/options of the command typed so far, and the values they take', () => {
    expect(complete('castellan root prepare --key')).toEqual(['--key', '--key-type']);
    expect(complete('castellan root prepare --key-type ')).toEqual(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']);
    expect(complete('castellan check --output ')).toEqual(['json', 'table']);
    expect(complete('castellan ca mint --key-type rsa')).toEqual(['rsa-2048', 'rsa-3072']);
    expect(complete('castellan check --dir ca-dir --out')).toEqual(['--output']);
    expect(complete('castellan completion ')).toEqual(['bash', 'zsh']);
  });

  it('ok/files and directories where a flag or argument names one', () => {
    expect(complete('castellan ca init --dir ca')).toEqual(['ca-dir']);
    expect(complete('castellan check --config ca.')).toEqual(['ca.yaml']);
    expect(complete('castellan config validate ca.')).toEqual(['ca.yaml']);
  });

  it('fail/a value that is not a file or a choice, and unknown words, complete to nothing', () => {
    expect(complete('castellan root status --server ')).toEqual([]);
    expect(complete('castellan nosuch ')).toEqual(['agent', 'audit', 'bundle', 'ca', 'cert', 'check', 'completion', 'config', 'dev', 'federation', 'root', 'token', 'version']);
    expect(complete('castellan root prepare --key-type x')).toEqual([]);
  });
});

describe('castellan completion zsh', () => {
  it("ok/the same completion through zsh's bashcompinit; zsh loads it when installed", async () => {
    const r = await cli(['completion', 'zsh']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('#compdef castellan');
    expect(r.out).toContain('autoload -U +X bashcompinit && bashcompinit');
    expect(r.out).toContain('complete -o default -F _castellan castellan');
    const zsh = spawnSync('zsh', ['--version'], { encoding: 'utf8' });
    if (zsh.status !== 0) {
      console.log('zsh is not installed here: the zsh script was checked as text only');
      return;
    }
    const file = path.join(t.dir, 'castellan.zsh');
    writeFileSync(file, r.out);
    // As zsh's bashcompinit calls it: COMP_WORDS a (1-based) zsh array of the words, COMP_CWORD = CURRENT - 1.
    const zcomplete = (line: string) => {
      const words = line.split(' ');
      const z = spawnSync(
        'zsh',
        [
          '-c',
          'autoload -U compinit && compinit -u && source "$1" && shift && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _castellan; print -l -- "${COMPREPLY[@]}"',
          'zsh',
          file,
          ...words,
        ],
        { cwd: t.dir, encoding: 'utf8' },
      );
      expect(z.status, z.stderr).toBe(0);
      return z.stdout.split('\n').filter(Boolean).sort();
    };
    // zsh filters by the typed prefix itself (compadd), so its compgen returns every candidate.
    expect(zcomplete('castellan root ')).toEqual(['activate', 'prepare', 'retire', 'rotate-intermediate', 'status']);
    expect(zcomplete('castellan root prepare --key-type ')).toEqual(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']);
    expect(zcomplete('castellan agent status --')).toEqual(['--help', '--output', '--socket', '--token-file']);
    // PATH survives (the script must not touch zsh's special `path`).
    const p = spawnSync('zsh', ['-c', 'autoload -U compinit && compinit -u && source "$1" && COMP_WORDS=(castellan ro) COMP_CWORD=1 _castellan; print -r -- $PATH', 'zsh', file], {
      encoding: 'utf8',
    });
    expect(p.stdout.trim()).toBe(process.env.PATH);
  });

  it('fail/another shell is a usage error', async () => {
    expect((await cli(['completion', 'fish'])).code).toBe(2);
  });
});

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { agentLoadV8Flags, setAgentRunV8Flags } from '../../cli/agent-v8.js';

describe('the agent V8 flags (cli/agent-v8.ts)', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['ok/by default: lean young generation, no compilers while loading', {}, '--semi-space-growth-factor=1 --no-turbofan --no-sparkplug'],
    ['ok/a NODE_OPTIONS semi-space size keeps its own', { NODE_OPTIONS: '--max-semi-space-size=4' }, '--no-turbofan --no-sparkplug'],
    ['ok/a NODE_OPTIONS that names a compiler keeps its own', { NODE_OPTIONS: '--turbofan' }, '--semi-space-growth-factor=1'],
    ['ok/--no-opt in NODE_OPTIONS decides too', { NODE_OPTIONS: '--enable-source-maps --no-opt' }, '--semi-space-growth-factor=1'],
    ['ok/--no-sparkplug in NODE_OPTIONS decides too', { NODE_OPTIONS: '--no-sparkplug' }, '--semi-space-growth-factor=1'],
    ['ok/--trace-opt does not decide about the compilers', { NODE_OPTIONS: '--trace-opt' }, '--semi-space-growth-factor=1 --no-turbofan --no-sparkplug'],
    ['ok/CASTELLAN_AGENT_V8_FLAGS replaces them all', { CASTELLAN_AGENT_V8_FLAGS: ' --max-lazy ', NODE_OPTIONS: '--turbofan' }, '--max-lazy'],
    ['ok/CASTELLAN_AGENT_V8_FLAGS empty: none', { CASTELLAN_AGENT_V8_FLAGS: '' }, ''],
  ];
  for (const [name, env, flags] of cases) it(name, () => expect(agentLoadV8Flags(env, []).join(' ')).toBe(flags));

  it('ok/node flags on the command line decide too (node --no-opt bin/castellan.js agent)', () => {
    expect(agentLoadV8Flags({}, ['--no-opt']).join(' ')).toBe('--semi-space-growth-factor=1');
    expect(agentLoadV8Flags({}, ['--jitless', '--max-semi-space-size=2'])).toEqual([]);
  });

  it('fail/CASTELLAN_AGENT_V8_FLAGS that is not a list of V8 flags: a usage error naming the variable', () => {
    for (const bad of ['--help', 'turbofan', '--no-turbofan -x', '--version']) {
      expect(() => agentLoadV8Flags({ CASTELLAN_AGENT_V8_FLAGS: bad }, [])).toThrow(/CASTELLAN_AGENT_V8_FLAGS: .* is not a V8 flag/);
    }
  });

  it('ok/node mode gets the compilers back only when the load-time flags took them away', () => {
    expect(setAgentRunV8Flags('node', {}, [])).toBe('--turbofan --sparkplug');
    expect(setAgentRunV8Flags('node', { NODE_OPTIONS: '--no-turbofan' }, [])).toBe('');
    expect(setAgentRunV8Flags('node', { CASTELLAN_AGENT_V8_FLAGS: '--semi-space-growth-factor=1' }, [])).toBe('');
    // An explicit CASTELLAN_AGENT_V8_FLAGS is final in node mode too.
    expect(setAgentRunV8Flags('node', { CASTELLAN_AGENT_V8_FLAGS: '--no-turbofan' }, [])).toBe('');
  });

  it('ok/sidecar mode flushes bytecode early, unless a node option or CASTELLAN_AGENT_V8_FLAGS says otherwise', () => {
    expect(setAgentRunV8Flags('sidecar', {}, [])).toBe('--bytecode-old-age=1');
    expect(setAgentRunV8Flags('sidecar', { NODE_OPTIONS: '--bytecode-old-age=3' }, [])).toBe('');
    expect(setAgentRunV8Flags('sidecar', {}, ['--no-flush-bytecode'])).toBe('');
    expect(setAgentRunV8Flags('sidecar', { CASTELLAN_AGENT_V8_FLAGS: '' }, [])).toBe('');
  });

  it('fail/castellan agent with CASTELLAN_AGENT_V8_FLAGS=--help: exit 2 naming the variable, V8 prints nothing', () => {
    const r = spawnSync(process.execPath, ['bin/castellan.js', 'agent', '--help'], { encoding: 'utf8', env: { ...process.env, CASTELLAN_AGENT_V8_FLAGS: '--help' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^castellan: CASTELLAN_AGENT_V8_FLAGS: "--help" is not a V8 flag/);
    expect(r.stdout).not.toMatch(/Synopsis|Options:\s+--/);
  });
});

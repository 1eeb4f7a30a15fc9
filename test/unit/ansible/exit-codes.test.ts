import { explainExitCode, signalExitCode } from '../../../src/ansible/exit-codes.js';
import type { Recap } from '../../../src/ansible/recap.js';

const zero = { ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 };
const recap: Recap = {
  hosts: {
    server: { ...zero, ok: 5 },
    'worker-1': { ...zero, ok: 2, failures: 1 },
    'worker-2': { ...zero, unreachable: 1 },
  },
};

describe('explainExitCode', () => {
  it.each([
    [0, /finished successfully/],
    [1, /--limit that matches no host, a missing file/],
    [2, /one or more tasks failed/],
    [3, /unreachable/],
    [4, /could not parse a file \(a YAML or inventory syntax error\)/],
    [5, /rejected its command-line options/],
    [6, /not UTF-8/],
    [99, /interrupted by the user \(Ctrl-C\)/],
    [250, /unexpected internal error/],
    [255, /unknown error/],
    [143, /killed by signal 15/],
    [42, /unexpected code/],
  ])('explains %i', (code, re) => {
    expect(explainExitCode(code)).toMatch(re);
  });

  it('names the failed hosts for 2', () => {
    expect(explainExitCode(2, { hosts: { 'worker-1': recap.hosts['worker-1']! } })).toBe(
      'a task failed on worker-1; see the failed task above',
    );
  });

  it('tells unreachable hosts from a syntax error for 4 by the recap', () => {
    expect(explainExitCode(4, recap)).toMatch(/^could not reach worker-2, and a task failed on worker-1: check the host is up/);
    expect(explainExitCode(4, undefined)).toMatch(/syntax error/);
  });

  it('lists several hosts', () => {
    const r: Recap = { hosts: { b: { ...zero, unreachable: 1 }, a: { ...zero, unreachable: 2 } } };
    expect(explainExitCode(4, r)).toMatch(/^could not reach 2 hosts \(a, b\)/);
  });

  it('mentions a killing signal', () => {
    expect(explainExitCode(143, undefined, 'SIGTERM')).toMatch(/killed by SIGTERM/);
  });
});

describe('signalExitCode', () => {
  it('is 128 + the signal number', () => {
    expect(signalExitCode('SIGINT')).toBe(130);
    expect(signalExitCode('SIGTERM')).toBe(143);
    expect(signalExitCode('SIGKILL')).toBe(137);
  });
});

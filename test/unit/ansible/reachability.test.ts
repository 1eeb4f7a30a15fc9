import { connectionArgs, parseOneLine, PYTHON_CHECK, readReachability } from '../../../src/ansible/reachability.js';

const zero = { ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 };

it('reads unreachable and failed hosts, with their reasons, from ansible --one-line', () => {
  const stdout = [
    'a | UNREACHABLE!: Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused',
    'b | FAILED! => {"changed": false,"module_stderr": "/bin/sh: 1: /usr/bin/python3: not found\\n","msg": "The module failed to execute correctly, you probably need to set the interpreter."}',
    'c | SUCCESS => {"changed": false,"ping": "pong"}',
  ].join('\n');
  const recap = { hosts: { a: { ...zero, unreachable: 1 }, b: { ...zero, failures: 1 }, c: { ...zero, ok: 1 } } };
  expect(readReachability({ exitCode: 4, argv: [], stdout, recap })).toEqual({
    reachable: ['c'],
    problems: [
      { host: 'a', kind: 'unreachable', reason: 'Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused' },
      { host: 'b', kind: 'failed', reason: 'The module failed to execute correctly, you probably need to set the interpreter.' },
    ],
  });
  expect(parseOneLine('noise\n[WARNING]: x\n').size).toBe(0);
});

it('reads a raw command\'s one-line results: a failed command is a host that cannot run modules, named with its exit code and stderr', () => {
  const stdout = [
    // ansible-core 2.14's one-line callback: a failed command as JSON.
    'd | FAILED! => {"changed": true,"msg": "non-zero return code","rc": 127,"stderr": "/bin/sh: 1: /opt/py/bin/python3: not found\\r\\nShared connection to 10.0.0.4 closed.\\r\\n","stdout": ""}',
    'e | CHANGED | rc=0 | (stdout)  (stderr) Shared connection to 10.0.0.5 closed.\\r\\n',
    // The line a command's result has when it succeeds, as later callbacks may also print a failure.
    'f | FAILED | rc=1 | (stdout) ',
  ].join('\n');
  const recap = { hosts: { d: { ...zero, failures: 1 }, e: { ...zero, ok: 1 }, f: { ...zero, failures: 1 } } };
  expect(readReachability({ exitCode: 2, argv: [], stdout, recap })).toEqual({
    reachable: ['e'],
    problems: [
      { host: 'd', kind: 'failed', reason: 'exit 127: /bin/sh: 1: /opt/py/bin/python3: not found' },
      { host: 'f', kind: 'failed', reason: 'exit 1' },
    ],
  });
});

it('reports a round that reached no host (a broken inventory, say) as a failure', () => {
  expect(() => readReachability({ exitCode: 1, argv: [], stdout: '', stderr: 'ERROR! bad inventory\n' })).toThrow(/failed before contacting any host \(exit 1\): ERROR! bad inventory/);
});

it('keeps the connection options of ansible-playbook arguments, drops the rest', () => {
  expect(connectionArgs(['-vv', '-u', 'admin', '--forks', '3', '--private-key=/k', '-k', '--start-at-task', 'x', '-T5', '--ssh-extra-args', '-o X=1'])).toEqual([
    '-u', 'admin', '--private-key=/k', '-k', '-T5', '--ssh-extra-args', '-o X=1',
  ]);
});

it('gives the round a command that no Ansible reads as JSON (ansible-core 2.19 parses arguments starting with "{")', () => {
  expect(PYTHON_CHECK.trimStart()).not.toMatch(/^\{/);
});

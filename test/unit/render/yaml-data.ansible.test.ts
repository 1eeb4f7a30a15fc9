/**
 * Property test of the writer of the generated variable files (src/render/yaml-data.ts) against real Ansible:
 * random keys and values (controls, line separators, quotes, `{{ }}`, `: `, `#`, the vault prefix, 10,000
 * characters) written as a host's variables read back through `ansible-inventory --list` exactly, and every string
 * is still unsafe (ansible-inventory --list marks unsafe strings as {"__ansible_unsafe": …}).
 * Many cases share one inventory, so the whole property costs two Ansible processes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { toAnsibleYaml, type YamlData } from '../../../src/render/yaml-data.js';

jest.setTimeout(120_000);
const run = promisify(execFile);

const piece = fc.oneof(
  fc.constantFrom('{{ 7 * 7 }}', '{% raw %}', '"', "'", '\\', ': ', ' #', '#', '\n', '\r\n', '\t', '\u0000', '\u0007', '\u001b', '\u007f',
    '\u0085', '\u2028', '\u2029', '\ufeff', '\u202e', '- ', '? ', '&a', '*a', '!unsafe', '!vault', '$ANSIBLE_VAULT;1.1;AES256', 'yes', '010',
    '1.0', '~', '', ' ', '%', '@', '`', '\u00e9', '\ud83d\ude00'),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const hostile = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
const key = fc.oneof(hostile.filter((k) => k.length > 0), fc.constant('x'.repeat(10_000)), fc.constant('\u2028'.repeat(2_000)));
const value = fc.oneof(hostile, fc.constant('v{{ x }}'.repeat(1_250)), fc.constant('$ANSIBLE_VAULT;1.1;AES256\n6162'));
const hostVars = fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 });

describe('generated variable files read back exactly by Ansible', () => {
  test('random keys and values through ansible-inventory --list, all strings unsafe', async () => {
    const cases = fc.sample(hostVars, { numRuns: 150, seed: 9 });
    const hosts: Record<string, YamlData> = {};
    cases.forEach((vars, i) => (hosts[`h${i}`] = vars));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pag-yaml-data-'));
    try {
      const file = path.join(dir, 'inventory.yml');
      writeFileSync(file, toAnsibleYaml({ all: { hosts } }, 'property test'));
      const env = { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_LOCALHOST_WARNING: 'false' };
      const { stdout } = await run('ansible-inventory', ['-i', file, '--list'], { env, maxBuffer: 256 << 20 });
      const listed = JSON.parse(stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> } };
      // ansible-inventory --list marks every unsafe string as {"__ansible_unsafe": "..."}: equality proves both.
      const unsafe = (vars: Record<string, string>) => Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { __ansible_unsafe: v }]));
      const differing = cases
        .map((vars, i) => ({ host: `h${i}`, read: listed._meta.hostvars[`h${i}`] ?? {}, expected: unsafe(vars) }))
        .filter((c) => !isDeepStrictEqual(c.read, c.expected))
        .map((c) => {
          const key = [...new Set([...Object.keys(c.read), ...Object.keys(c.expected)])].find((k) => !isDeepStrictEqual(c.read[k], c.expected[k])) ?? '';
          return { host: c.host, key: JSON.stringify(key).slice(0, 200), read: JSON.stringify(c.read[key]).slice(0, 200), expected: JSON.stringify(c.expected[key]).slice(0, 200) };
        });
      expect(differing).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Issue #15: the inventory means the same to pag-ansible as to Ansible. Each test is one defect found by the fuzz
 * run: types and digits through to the generated files, names that are not names, and the bytes of the input.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCluster, type Diagnostic } from '../../../src/config/index.js';
import { generatedFiles } from '../../../src/render/generated-vars.js';
import { fixturesDir, repoRoot, where } from './helpers.js';

const example = readFileSync(path.join(repoRoot, 'inventory.example.yml'), 'utf8');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pag-meaning-'));
  cpSync(path.join(fixturesDir, 'artifacts'), path.join(dir, 'artifacts'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function load(inventory: string | Buffer, secrets?: string | Buffer) {
  writeFileSync(path.join(dir, 'inventory.yml'), inventory);
  if (secrets !== undefined) writeFileSync(path.join(dir, 'secrets.yml'), secrets);
  return loadCluster({ inventoryPath: 'inventory.yml', ...(secrets !== undefined ? { secretsPath: 'secrets.yml' } : {}), cwd: dir });
}
const errorsOf = (r: { diagnostics: Diagnostic[] }) => r.diagnostics.filter((d) => d.severity === 'error');
/** "line:col" of `needle` in `text`: the example inventory's comments move its lines, the tests follow them. */
const at = (text: string, needle: string, col: number) => `${text.slice(0, text.indexOf(needle)).split('\n').length}:${col}`;

describe('types and digits reach the generated files as Ansible read them', () => {
  test('08 is text; 1.0 stays a float; 12345678901234567890 keeps its digits', async () => {
    const text = example
      .replace('ansible_user: root', 'ansible_user: 08\n    ansible_port: 1.0\n    ansible_big: 12345678901234567890')
      .replace('PREFECT_LOGGING_EXTRA_LOGGERS: pipeline', 'PREFECT_LOGGING_EXTRA_LOGGERS: 08\n          GPU_ORDER: 0:3');
    const result = await load(text);
    expect(errorsOf(result)).toEqual([]);
    const inventory = generatedFiles(result.config!).get('inventory.yml')!;
    expect(inventory).toContain('ansible_user: !unsafe "08"');
    expect(inventory).toContain('ansible_port: 1.0\n');
    expect(inventory).toContain('ansible_big: 12345678901234567890\n');
    const vars = generatedFiles(result.config!).get('group_vars/all/pag_ansible.yml')!;
    expect(vars).toContain('PREFECT_LOGGING_EXTRA_LOGGERS: !unsafe "08"');
    expect(vars).toContain('GPU_ORDER: !unsafe "0:3"');
  });

  test('a host named 001, yes or 1.5 is refused with what YAML made of it and the quoted form', async () => {
    const text = example.replace('pag-worker-1:', '001:').replace('pag-worker-2:', 'yes:');
    const result = await load(text);
    expect(errorsOf(result).map((d) => `${where(d)} | ${d.message}`)).toEqual([
      `${at(text, '001:', 9)} error key-not-string | the key 001 is the integer 1 to YAML 1.1 (Ansible reads it so), but keys here are names; write "001"`,
      `${at(text, 'yes:', 9)} error key-not-string | the key yes is the boolean true to YAML 1.1 (Ansible reads it so), but keys here are names; write "yes"`,
    ]);
  });

  test('ansible_user: 010 is refused (it is the integer 8), with a trap warning on ansible_port: 010', async () => {
    const result = await load(example.replace('ansible_user: root', 'ansible_user: 010\n    ansible_port: 010'));
    expect(result.diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '9:19 error schema | ansible_user must be text (an Ansible connection variable that must be a string: host, user, paths, methods), but YAML 1.1 reads 010 as the integer 8 (so does Ansible); write "010"',
      '10:19 warning yaml11-trap | YAML 1.1 reads 010 as the integer 8 (so does Ansible); if you meant the text, write "010"',
    ]);
  });

  test('a float where an integer is needed is refused', async () => {
    const text = example.replace('concurrency_limit: 8 ', 'concurrency_limit: 8.0');
    const result = await load(text);
    expect(errorsOf(result).map((d) => `${where(d)} | ${d.message}`)).toEqual([
      `${at(text, 'concurrency_limit: 8.0', 28)} error schema | 8.0 is the float 8.0 to YAML 1.1, but an integer in range is needed here; write a plain integer such as 8`,
    ]);
  });

  test('a plain string starting with $ANSIBLE_VAULT; stays unsafe text; a !vault value is written as vault data', async () => {
    const text = example.replace(
      'ansible_user: root',
      'ansible_user: $ANSIBLE_VAULT;1.1;AES256\n    ansible_password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162',
    );
    const result = await load(text);
    expect(errorsOf(result)).toEqual([]);
    const inventory = generatedFiles(result.config!).get('inventory.yml')!;
    expect(inventory).toContain('ansible_user: !unsafe "$ANSIBLE_VAULT;1.1;AES256"');
    expect(inventory).toContain('ansible_password: !vault |-\n      $ANSIBLE_VAULT;1.1;AES256\n      6162');
  });
});

describe('names that are not names', () => {
  test('ansible_* names with line separators and env names that are not POSIX are refused, with did-you-mean', async () => {
    const text = example
      .replace('ansible_user: root', 'ansible_a\u2028b: root\n    ansible_usr-name: x')
      .replace('PREFECT_LOGGING_EXTRA_LOGGERS: pipeline', 'BAD\u0085NAME: x');
    const result = await load(text);
    expect(errorsOf(result).map((d) => `${where(d)} | ${d.message}`)).toEqual([
      `9:5 error name | variable name "ansible_a\\u2028b" is not valid: it must be an identifier: ansible_ followed by letters, digits and '_'; did you mean "ansible_ab"?`,
      `10:5 error name | variable name "ansible_usr-name" is not valid: it must be an identifier: ansible_ followed by letters, digits and '_'; did you mean "ansible_usrname"?`,
      expect.stringMatching(new RegExp(`^${at(text, 'BAD\u0085NAME', 11)} error schema \\| environment variable name "BAD`)),
    ]);
  });

  test('names longer than 256 characters are refused at the key (longer than 1024 is a YAML syntax error, for Ansible too)', async () => {
    const text = example.replace('PREFECT_LOGGING_EXTRA_LOGGERS: pipeline', `${'E'.repeat(300)}: x`);
    const result = await load(text);
    expect(errorsOf(result).map(where)).toEqual([`${at(text, 'EEEE', 11)} error name`]);
    expect(errorsOf(result)[0]?.message).toContain('is 300 characters long; the limit is 256');
  });
});

describe('the bytes of the input', () => {
  test('invalid UTF-8 is refused with line, column and byte offset', async () => {
    const bytes = Buffer.concat([Buffer.from('all:\n  vars:\n    ansible_user: r'), Buffer.from([0xe9, 0xff]), Buffer.from('\n')]);
    await expect(load(bytes)).rejects.toThrow('inventory.yml:3:20: not valid UTF-8 (byte 0xE9 at byte offset 32); save the file as UTF-8');
  });

  test('UTF-16 with a BOM is refused with "save it as UTF-8"', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(example, 'utf16le')]);
    await expect(load(utf16)).rejects.toThrow('inventory.yml is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8');
  });

  test('a UTF-8 BOM is fine', async () => {
    const result = await load(`\ufeff${example}`);
    expect(errorsOf(result)).toEqual([]);
  });

  test('an endless input stops at the 64 MiB cap, quickly, naming the file', async () => {
    const started = Date.now();
    await expect(loadCluster({ inventoryPath: '/dev/zero', cwd: dir })).rejects.toThrow('the inventory /dev/zero is larger than 64 MiB');
    expect(Date.now() - started).toBeLessThan(20_000); // about 1 s on an idle machine, a few seconds on a busy one
  }, 30_000);
});

describe('pipes keep working (built CLI)', () => {
  const cli = path.join(repoRoot, 'bin/pag-ansible.js');
  const built = existsSync(path.join(repoRoot, 'dist/cli/main.js'));
  (built ? test : test.skip)('-s /dev/stdin and -s <(…) are read', () => {
    writeFileSync(path.join(dir, 'inventory.yml'), example);
    const secrets = readFileSync(path.join(repoRoot, 'secrets.example.yml'), 'utf8');
    // A real pipe, as a shell makes it (spawnSync's `input` is a socket, which /dev/stdin cannot be opened on).
    writeFileSync(path.join(dir, 'secrets.source'), secrets);
    const piped = execFileSync('bash', ['-c', `cat secrets.source | node ${JSON.stringify(cli)} validate -i inventory.yml -s /dev/stdin 2>&1; echo "exit $?"`], { cwd: dir, encoding: 'utf8' });
    expect(piped.trim()).toBe('inventory.yml: OK (1 server, 2 workers, 2 pools)\n/dev/stdin: OK\nexit 0');
    const substituted = execFileSync('bash', ['-c', `node ${JSON.stringify(cli)} validate -i inventory.yml -s <(cat ${JSON.stringify(path.join(repoRoot, 'secrets.example.yml'))}) 2>&1; echo "exit $?"`], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(substituted.trim()).toMatch(/^inventory\.yml: OK \(1 server, 2 workers, 2 pools\)\n\/dev\/fd\/\d+: OK\nexit 0$/);
  });
});

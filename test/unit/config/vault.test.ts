import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadCluster } from '../../../src/config/index.js';
import { FileError, MissingToolError, UsageError } from '../../../src/errors.js';
import { fixturesDir } from './helpers.js';

const plaintext = 'prefect_api_auth_string: !unsafe "admin:vaulted-secret"\n';

describe('vault-encrypted files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pag-vault-'));
    await writeFile(path.join(dir, 'pw'), 'correct horse\n');
    await writeFile(path.join(dir, 'wrong-pw'), 'battery staple\n');
    await writeFile(path.join(dir, 'secrets.yml'), plaintext);
    await execa('ansible-vault', ['encrypt', '--vault-password-file', path.join(dir, 'pw'), path.join(dir, 'secrets.yml')]);
    await writeFile(path.join(dir, 'inventory.yml'), await readFile(path.join(fixturesDir, 'minimal.yml'), 'utf8'));
  }, 30_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const load = (extra: Record<string, unknown>) =>
    loadCluster({ inventoryPath: 'inventory.yml', secretsPath: 'secrets.yml', cwd: dir, ...extra });

  test('are decrypted in memory with --vault-password-file, leaving no plaintext on disk', async () => {
    const encrypted = await readFile(path.join(dir, 'secrets.yml'), 'utf8');
    expect(encrypted.startsWith('$ANSIBLE_VAULT;')).toBe(true);
    const before = (await readdir(dir)).sort();
    const result = await load({ vaultPasswordFile: 'pw' });
    expect(result.diagnostics).toEqual([]);
    expect(result.secrets).toEqual({ path: path.join(dir, 'secrets.yml'), prefect_api_auth_string: 'admin:vaulted-secret' });
    expect((await readdir(dir)).sort()).toEqual(before);
    expect(await readFile(path.join(dir, 'secrets.yml'), 'utf8')).toBe(encrypted);
  }, 30_000);

  test('diagnostics in a decrypted file point at plaintext lines, under the name the user typed', async () => {
    await writeFile(path.join(dir, 'bad.yml'), 'prefect_api_auth_string: "a:b"\nprefect_api_auth_strin: x\n');
    await execa('ansible-vault', ['encrypt', '--vault-password-file', path.join(dir, 'pw'), path.join(dir, 'bad.yml')]);
    const result = await load({ secretsPath: './bad.yml', vaultPasswordFile: 'pw' });
    expect(result.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.rule}`)).toEqual(['./bad.yml:2:1 unknown-key']);
  }, 30_000);

  test('a wrong password is a FileError naming the file', async () => {
    const attempt = load({ vaultPasswordFile: 'wrong-pw' });
    await expect(attempt).rejects.toThrow(FileError);
    await expect(load({ vaultPasswordFile: 'wrong-pw' })).rejects.toThrow('cannot decrypt secrets.yml: wrong vault password');
  }, 30_000);

  test('a missing password file is a FileError naming it', async () => {
    await expect(load({ vaultPasswordFile: 'nope' })).rejects.toThrow(/cannot read the vault password file .*nope: it does not exist/);
  });

  test('no password source is a UsageError telling what to pass', async () => {
    const attempt = load({ env: { PATH: process.env.PATH } });
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(load({ env: { PATH: process.env.PATH } })).rejects.toThrow('secrets.yml is encrypted with ansible-vault and no vault password was given');
  });

  test('--ask-vault-pass without a terminal is a UsageError pointing at --vault-password-file', async () => {
    const attempt = load({ askVaultPass: true, stdinIsTTY: false });
    await expect(attempt).rejects.toThrow(UsageError);
    await expect(load({ askVaultPass: true, stdinIsTTY: false })).rejects.toMatchObject({ hint: expect.stringContaining('--vault-password-file') });
  });

  test('ansible-vault missing is a MissingToolError (exit 3)', async () => {
    const attempt = load({ vaultPasswordFile: 'pw', env: { PATH: '/nonexistent' } });
    await expect(attempt).rejects.toThrow(MissingToolError);
  });
});

describe('unreadable files', () => {
  test('a missing inventory is a FileError naming the path as typed', async () => {
    const attempt = loadCluster({ inventoryPath: 'does-not-exist.yml', cwd: fixturesDir });
    await expect(attempt).rejects.toThrow(FileError);
    await expect(loadCluster({ inventoryPath: 'does-not-exist.yml', cwd: fixturesDir })).rejects.toThrow(
      'cannot read the inventory does-not-exist.yml: it does not exist',
    );
  });

  test('a directory given as the secrets file is a FileError', async () => {
    await expect(loadCluster({ inventoryPath: 'minimal.yml', secretsPath: 'artifacts', cwd: fixturesDir })).rejects.toThrow(
      'cannot read the secrets file artifacts: it is a directory',
    );
  });
});

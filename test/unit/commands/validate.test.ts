import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { CommandContext } from '../../../src/cli/context.js';
import { registerValidate } from '../../../src/commands/validate.js';
import { UsageError } from '../../../src/errors.js';

const fixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/config');

async function runValidate(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    reporter: { out: (t) => out.push(t), err: (t) => err.push(t) },
    exitCode: 0,
    cwd: fixturesDir,
    env: process.env,
  };
  const program = new Command('pag-ansible').exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerValidate(program, ctx);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput(program.configureOutput());
  await program.parseAsync(['node', 'pag-ansible', 'validate', ...args]);
  return { code: ctx.exitCode, out: out.join('\n'), err: err.join('\n') };
}

describe('pag-ansible validate', () => {
  test('a clean inventory: no findings on stdout, a one-line summary on stderr, exit 0', async () => {
    const result = await runValidate(['-i', 'minimal.yml']);
    expect(result).toEqual({ code: 0, out: '', err: 'minimal.yml: OK (1 server, 1 worker, 1 pool)' });
  });

  test('warnings are printed and counted but do not fail', async () => {
    const result = await runValidate(['-i', 'minimal.yml', '-s', 'secrets-valid.yml']);
    expect(result.code).toBe(0);
    expect(result.out).toBe('secrets-valid.yml:2:1: warning [database-password-unused] prefect_database_password is not used: minimal.yml uses SQLite');
    expect(result.err).toBe('minimal.yml: OK (1 server, 1 worker, 1 pool)\nsecrets-valid.yml: OK with 1 warning');
  });

  test('errors and warnings are all printed; the summary counts them; exit 1', async () => {
    const result = await runValidate(['--inventory', 'pools.yml']);
    expect(result.code).toBe(1);
    expect(result.out.split('\n')).toHaveLength(6);
    expect(result.out).toContain('pools.yml:19:34: error [undefined-pool] work pool "cpu-pol" is not defined');
    expect(result.err).toBe('pools.yml: 3 errors, 3 warnings');
  });

  test('--format json prints a JSON array, even when there is nothing to report', async () => {
    const clean = await runValidate(['-i', 'minimal.yml', '--format', 'json']);
    expect(JSON.parse(clean.out)).toEqual([]);
    const failing = await runValidate(['-i', 'two-servers.yml', '--format', 'json']);
    expect(JSON.parse(failing.out)).toEqual([
      expect.objectContaining({ file: 'two-servers.yml', line: 7, col: 5, severity: 'error', rule: 'one-server' }),
    ]);
  });

  test('--format github prints workflow annotations', async () => {
    const result = await runValidate(['-i', 'two-servers.yml', '--format', 'github']);
    expect(result.out).toMatch(/^::error file=two-servers\.yml,line=7,col=5,title=one-server::group prefect_server has 2 hosts/);
  });

  test('an unknown --format is a UsageError', async () => {
    await expect(runValidate(['-i', 'minimal.yml', '--format', 'xml'])).rejects.toThrow(UsageError);
  });

  test('-i is required', async () => {
    await expect(runValidate([])).rejects.toThrow(CommanderError);
  });

  test('a YAML syntax error is a finding with a position, not a crash', async () => {
    const result = await runValidate(['-i', 'syntax-error.yml']);
    expect(result.code).toBe(1);
    expect(result.out).toBe('syntax-error.yml:3:22: error [yaml-syntax] YAML syntax: the "quote opened here is never closed; add the closing "');
  });

  test('findings in the secrets file are counted for the secrets file, not the inventory', async () => {
    const result = await runValidate(['-i', 'minimal.yml', '-s', 'secrets-bad.yml']);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^secrets-bad\.yml:/);
    const errors = result.out.split('\n').filter((l) => l.startsWith('secrets-bad.yml:') && l.includes(' error ')).length;
    expect(result.err.split('\n')).toEqual(['minimal.yml: OK', `secrets-bad.yml: ${errors} error${errors === 1 ? '' : 's'}, 0 warnings`]);
  });

  test('errors in both files: each file its own line', async () => {
    const result = await runValidate(['-i', 'two-servers.yml', '-s', 'secrets-bad.yml']);
    expect(result.err.split('\n')).toEqual([
      'two-servers.yml: 1 error, 0 warnings',
      expect.stringMatching(/^secrets-bad\.yml: \d+ errors?, 0 warnings$/),
    ]);
  });

  test.each([
    [['-i', 'nope.yml'], 'nope.yml', 'cannot read the inventory nope.yml: it does not exist'],
    [['-i', 'minimal.yml', '-s', 'missing-secrets.yml'], 'missing-secrets.yml', 'cannot read the secrets file missing-secrets.yml: it does not exist'],
    [['-i', '.'], '.', 'cannot read the inventory .: it is a directory'],
  ])('--format json prints a JSON document when a file cannot be read (%j), and still exits 2', async (args, file, message) => {
    const out: string[] = [];
    const ctx: CommandContext = { reporter: { out: (t) => out.push(t), err: () => {} }, exitCode: 0, cwd: fixturesDir, env: process.env };
    const program = new Command('pag-ansible').exitOverride();
    registerValidate(program, ctx);
    await expect(program.parseAsync(['node', 'pag-ansible', 'validate', ...args, '--format', 'json'])).rejects.toMatchObject({ exitCode: 2, message });
    expect(JSON.parse(out.join('\n'))).toEqual([{ file, line: 1, col: 1, severity: 'error', rule: 'file-unreadable', message }]);
  });

  test('a missing file surfaces as a FileError for main() to report (exit 2)', async () => {
    await expect(runValidate(['-i', 'nope.yml'])).rejects.toMatchObject({ exitCode: 2, message: 'cannot read the inventory nope.yml: it does not exist' });
  });
});

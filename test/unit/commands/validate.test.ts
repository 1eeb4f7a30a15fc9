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
    expect(result.err).toBe('minimal.yml: OK with 1 warning (1 server, 1 worker, 1 pool, secrets OK)');
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
    expect(result.out).toBe('syntax-error.yml:5:1: error [yaml-syntax] YAML syntax: Missing closing "quote');
  });

  test('a missing file surfaces as a FileError for main() to report (exit 2)', async () => {
    await expect(runValidate(['-i', 'nope.yml'])).rejects.toMatchObject({ exitCode: 2, message: 'cannot read the inventory nope.yml: it does not exist' });
  });
});

/**
 * Entry point: builds the commander program from one file per command and maps every error to an exit code.
 * This is the only place that prints errors or decides exit codes.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, PagError, ValidationError } from '../errors.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import { consoleReporter, type Reporter } from './reporter.js';
import type { CommandContext } from './context.js';
import { packageVersion } from '../util/package-root.js';

export type { CommandContext } from './context.js';

type Register = (program: Command, ctx: CommandContext) => void;

/**
 * Every command in the order `--help` lists them, each loaded only when needed: a command's module (and what it
 * imports: the renderer, ansible's runner, the bundle builder…) costs start-up time that other commands need not pay.
 */
const COMMANDS: readonly { name: string; load: () => Promise<Register> }[] = [
  { name: 'validate', load: async () => (await import('../commands/validate.js')).registerValidate },
  { name: 'render', load: async () => (await import('../commands/render.js')).registerRender },
  { name: 'run', load: async () => (await import('../commands/run.js')).registerRun },
  { name: 'deploy-flow', load: async () => (await import('../commands/deploy-flow.js')).registerDeployFlow },
  { name: 'ping', load: async () => (await import('../commands/ping.js')).registerPing },
  { name: 'status', load: async () => (await import('../commands/status.js')).registerStatus },
  { name: 'backup', load: async () => (await import('../commands/backup.js')).registerBackup },
  { name: 'restore', load: async () => (await import('../commands/restore.js')).registerRestore },
  { name: 'flow-run', load: async () => (await import('../commands/flow-run.js')).registerFlowRun },
  { name: 'flows', load: async () => (await import('../commands/flows.js')).registerFlows },
  { name: 'flow-remove', load: async () => (await import('../commands/flow-remove.js')).registerFlowRemove },
  { name: 'bundle', load: async () => (await import('../commands/bundle.js')).registerBundle },
];

/**
 * The commander program. Given the command about to run (the first argument), only that command is registered;
 * without one (`--help`, `help`, a mistyped name) every command is, so help and suggestions list them all.
 */
export async function buildProgram(ctx: CommandContext, commandName?: string): Promise<Command> {
  const program = new Command('pag-ansible')
    .description('Deploy a self-hosted Prefect 3 cluster with Ansible, online or air-gapped.')
    .version(packageVersion(), '-V, --version')
    // Program options only before the command: `deploy-flow --version 1.2` is the deployment's version.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.reporter.out(s),
      writeErr: (s) => ctx.reporter.err(s),
    })
    .exitOverride();
  const only = COMMANDS.find((c) => c.name === commandName);
  // One after the other: the help that lists them all is not worth racing for.
  for (const { load } of only ? [only] : COMMANDS) (await load())(program, ctx);
  const all = (c: Command): Command[] => c.commands.flatMap((sub) => [sub, ...all(sub)]);
  for (const cmd of all(program)) cmd.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Maps any thrown value to a printed message and an exit code. */
export function reportError(e: unknown, reporter: Reporter): number {
  if (e instanceof CommanderError) {
    // --help and --version exit through here with code 0; real usage errors were already printed by commander.
    return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (e instanceof ValidationError) {
    reporter.err(formatDiagnostics(e.diagnostics, 'text'));
    reporter.err(`pag-ansible: ${e.message}; fix them and run again (\`pag-ansible validate\` lists them).`);
    return e.exitCode;
  }
  if (e instanceof PagError) {
    reporter.err(`pag-ansible: ${e.message}`);
    if (e.hint) reporter.err(`  ${e.hint}`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  reporter.err(`pag-ansible: internal error: ${message}`);
  reporter.err('  This is a bug in pag-ansible; set PAG_ANSIBLE_DEBUG=1 for a stack trace and report it.');
  if (process.env.PAG_ANSIBLE_DEBUG && e instanceof Error && e.stack) reporter.err(e.stack);
  return 70; // EX_SOFTWARE
}

/**
 * Runs the command line ARGV. `commandLoaded`, when given, is called once the command's code is loaded and before it
 * runs: the process's owner (bin/pag-ansible.js) tunes V8 there, where a flag no longer costs the modules just loaded
 * their code cache.
 */
export async function main(
  argv: string[],
  reporter: Reporter = consoleReporter,
  cwd = process.cwd(),
  commandLoaded?: (command: string | undefined) => Promise<void>,
): Promise<number> {
  const ctx: CommandContext = { reporter, exitCode: ExitCode.ok, cwd, env: process.env };
  try {
    const program = await buildProgram(ctx, argv[2]);
    await commandLoaded?.(argv[2]);
    await program.parseAsync(argv);
    return ctx.exitCode;
  } catch (e) {
    return reportError(e, reporter);
  }
}

/**
 * Entry point: builds the commander program from one file per command and maps every error to an exit code.
 * This is the only place that prints errors or decides exit codes.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, PagError, ValidationError } from '../errors.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import { consoleReporter, type Reporter } from './reporter.js';
import type { CommandContext } from './context.js';
import { registerValidate } from '../commands/validate.js';
import { registerRender } from '../commands/render.js';
import { registerRun } from '../commands/run.js';
import { registerDeployFlow } from '../commands/deploy-flow.js';
import { registerPing } from '../commands/ping.js';
import { registerStatus } from '../commands/status.js';
import { registerBackup } from '../commands/backup.js';
import { registerRestore } from '../commands/restore.js';
import { registerFlowRun } from '../commands/flow-run.js';
import { registerFlows } from '../commands/flows.js';
import { registerFlowRemove } from '../commands/flow-remove.js';
import { registerBundle } from '../commands/bundle.js';
import { packageVersion } from '../util/package-root.js';

export type { CommandContext } from './context.js';

export function buildProgram(ctx: CommandContext): Command {
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
  registerValidate(program, ctx);
  registerRender(program, ctx);
  registerRun(program, ctx);
  registerDeployFlow(program, ctx);
  registerPing(program, ctx);
  registerStatus(program, ctx);
  registerBackup(program, ctx);
  registerRestore(program, ctx);
  registerFlowRun(program, ctx);
  registerFlows(program, ctx);
  registerFlowRemove(program, ctx);
  registerBundle(program, ctx);
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

export async function main(argv: string[], reporter: Reporter = consoleReporter, cwd = process.cwd()): Promise<number> {
  const ctx: CommandContext = { reporter, exitCode: ExitCode.ok, cwd, env: process.env };
  try {
    await buildProgram(ctx).parseAsync(argv);
    return ctx.exitCode;
  } catch (e) {
    return reportError(e, reporter);
  }
}

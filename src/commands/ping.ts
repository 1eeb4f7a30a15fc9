/** `pag-ansible ping`: render the tree (no secrets needed) and check every host answers `ansible.builtin.ping`. */
import path from 'node:path';
import { Command } from 'commander';
import type { CommandContext } from '../cli/main.js';
import { loadClusterOrThrow } from '../config/index.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import { renderTree } from '../render/index.js';
import { runAdhoc } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { checkLimit, passthroughArgs } from '../ansible/command-args.js';
import { defaultOutputDir } from './render.js';

export interface PingOptions {
  inventory: string;
  output?: string;
  limit?: string;
  force?: boolean;
}

export interface PingDeps {
  loadClusterOrThrow: typeof loadClusterOrThrow;
  renderTree: typeof renderTree;
  runAdhoc: typeof runAdhoc;
}

const defaultDeps: PingDeps = { loadClusterOrThrow, renderTree, runAdhoc };

export async function pingAction(
  opts: PingOptions,
  passthrough: string[],
  ctx: CommandContext,
  deps: PingDeps = defaultDeps,
): Promise<void> {
  const limit = checkLimit(opts.limit);
  // Connections only: no secrets, and the artifacts (tarballs) need not be on this machine yet.
  const { config, warnings } = await deps.loadClusterOrThrow({
    inventoryPath: opts.inventory,
    cwd: ctx.cwd,
    env: ctx.env,
    requireSecrets: false,
    requireArtifacts: false,
  });
  if (warnings.length > 0) ctx.reporter.err(formatDiagnostics(warnings, 'text'));
  const outDir = path.resolve(ctx.cwd, opts.output ?? defaultOutputDir(opts.inventory));
  await deps.renderTree(config, outDir, { force: opts.force ?? false });

  // Ad-hoc `ansible` fires the stats event at pag_recap (ANSIBLE_LOAD_CALLBACK_PLUGINS=1, set by the runner),
  // so unreachable hosts are named from the callback's JSON, not from scraping `host | UNREACHABLE!` lines.
  const result = await deps.runAdhoc({
    renderedDir: outDir,
    pattern: 'all',
    module: 'ansible.builtin.ping',
    env: ctx.env,
    ...(limit !== undefined && { limit }),
    // One line per host: `host | SUCCESS => …` / `host | UNREACHABLE!: …`.
    extraArgs: ['--one-line', ...passthrough],
  });
  finishAnsibleRun(result, ctx.reporter);
  ctx.exitCode = 0;
}

export function registerPing(program: Command, ctx: CommandContext): void {
  program
    .command('ping')
    .description('Render the tree and check that every host can be reached and runs Python (ansible.builtin.ping).')
    .requiredOption('-i, --inventory <file>', 'Ansible YAML inventory describing the cluster')
    .option('-o, --output <dir>', 'where to render the tree (default: "rendered" beside the inventory)')
    .option('--limit <hosts>', 'only ping hosts matching this Ansible pattern')
    .option('--force', 'overwrite files in the output directory that pag-ansible did not write')
    .argument('[ansible-args...]', 'after --: passed to ansible as they are (e.g. -- -u admin --ask-pass)')
    .addHelpText(
      'after',
      [
        '',
        'Exit code: 0 when every host answered, 4 when one was unreachable (named in the summary), else Ansible\'s.',
        '',
        'Examples:',
        '  pag-ansible ping -i inventory.yml',
        '  pag-ansible ping -i inventory.yml --limit prefect_workers',
      ].join('\n'),
    )
    .action(async (operands: string[], opts: PingOptions, cmd: Command) => {
      await pingAction(opts, passthroughArgs(cmd, operands), ctx);
    });
}

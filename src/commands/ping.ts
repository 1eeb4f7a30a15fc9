/** `pag-ansible ping`: render the tree (no secrets needed) and check every host answers `ansible.builtin.ping`. */
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { runAdhoc } from '../ansible/runner.js';
import { finishAnsibleRun } from '../ansible/summary.js';
import { checkLimit, passthroughArgs } from '../ansible/command-args.js';
import { addClusterOptions, clusterDeps, loadAndRender, type ClusterDeps, type ClusterInputOptions } from './cluster-input.js';

export interface PingOptions extends ClusterInputOptions {
  limit?: string;
}

export interface PingDeps extends ClusterDeps {
  runAdhoc: typeof runAdhoc;
}

const defaultDeps: PingDeps = { ...clusterDeps, runAdhoc };

export async function pingAction(
  opts: PingOptions,
  passthrough: string[],
  ctx: CommandContext,
  deps: PingDeps = defaultDeps,
): Promise<void> {
  const limit = checkLimit(opts.limit);
  // Connections only: no secrets, and the artifacts (tarballs) need not be on this machine yet.
  const { outDir } = await loadAndRender(opts, ctx, deps, { secrets: false, artifacts: false, limit });

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
  const cmd = program
    .command('ping')
    .description('Render the tree and check that every host can be reached and runs Python (ansible.builtin.ping).');
  addClusterOptions(cmd, { mode: 'none' })
    .option('--limit <hosts>', 'only ping hosts matching this Ansible pattern')
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

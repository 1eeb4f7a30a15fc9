/** `pag-ansible render`: validate the inventory and write the Ansible tree. */
import path from 'node:path';
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { applyRender, planChangesTree, planDiff, planRender } from '../render/index.js';
import { addClusterOptions, clusterDeps, ensureSiteCertificates, loadClusterInput, resolveOutputDir, type ClusterInputOptions } from './cluster-input.js';

export interface RenderOptions extends ClusterInputOptions {
  check?: boolean;
  diff?: boolean;
}

export async function renderAction(opts: RenderOptions, ctx: CommandContext): Promise<void> {
  if (opts.check && opts.force) throw new UsageError('--check and --force cannot be combined: --check never writes');
  // Secrets are checked when given (-s), never written: render does not need them.
  const { config } = await loadClusterInput(opts, ctx, clusterDeps, { secrets: false, artifacts: false });
  const outDir = resolveOutputDir(opts, ctx);
  const shown = path.relative(ctx.cwd, outDir) || '.';
  const plan = await planRender(config, outDir);

  if (opts.diff) {
    const diff = planDiff(plan);
    if (diff) ctx.reporter.out(diff);
  }
  if (opts.check) {
    const changed = plan.changes.filter((c) => c.kind !== 'unchanged');
    if (planChangesTree(plan)) {
      for (const c of changed) ctx.reporter.err(`  would ${c.kind} ${path.join(shown, c.path)}`);
      throw new CheckFailedError(`${shown} is out of date: ${changed.length} file(s) would change`, 'Run `pag-ansible render` to update it.');
    }
    ctx.reporter.err(`${shown} is up to date (${plan.changes.length} files)`);
    return;
  }

  await ensureSiteCertificates(config, ctx);
  const result = await applyRender(plan, { force: opts.force ?? false });
  for (const p of result.overwritten) ctx.reporter.err(`pag-ansible: overwrote ${path.join(shown, p)} (--force)`);
  for (const p of result.kept) {
    ctx.reporter.err(`pag-ansible: kept ${path.join(shown, p)}: no longer generated, but edited since it was written`);
  }
  ctx.reporter.err(
    `Rendered ${shown}: ${result.written.length} written, ${result.unchanged.length} unchanged, ${result.removed.length} removed.`,
  );
}

export function registerRender(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('render')
    .description('Validate the inventory and write the Ansible tree (roles, playbooks, ansible.cfg, generated vars).');
  addClusterOptions(cmd, { mode: 'optional', help: 'secrets file to check as well (never written to the tree)' })
    .option('--check', 'write nothing; exit 1 if the tree would change')
    .option('--diff', 'show how each file would change')
    .addHelpText(
      'after',
      '\nExamples:\n  pag-ansible render -i inventory.yml -o ansible/\n  pag-ansible render -i inventory.yml --check --diff   # in CI: is the committed tree current?',
    )
    .action(async (opts: RenderOptions) => {
      await renderAction(opts, ctx);
    });
}

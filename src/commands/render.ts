/** `pag-ansible render`: validate the inventory and write the Ansible tree. */
import path from 'node:path';
import { Command, Option } from 'commander';
import type { CommandContext } from '../cli/main.js';
import { loadClusterOrThrow } from '../config/index.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { applyRender, planChangesTree, planDiff, planRender } from '../render/index.js';

export interface RenderOptions {
  inventory: string;
  secrets?: string;
  output?: string;
  check?: boolean;
  diff?: boolean;
  force?: boolean;
  vaultPasswordFile?: string;
  askVaultPass?: boolean;
}

/** Where the tree goes when -o is not given: `rendered/` beside the inventory. */
export function defaultOutputDir(inventoryPath: string): string {
  return path.join(path.dirname(inventoryPath), 'rendered');
}

export async function renderAction(opts: RenderOptions, ctx: CommandContext): Promise<void> {
  if (opts.check && opts.force) throw new UsageError('--check and --force cannot be combined: --check never writes');
  const inventoryPath = path.resolve(ctx.cwd, opts.inventory);
  const { config, warnings } = await loadClusterOrThrow({
    inventoryPath,
    ...(opts.secrets !== undefined && { secretsPath: path.resolve(ctx.cwd, opts.secrets) }),
    ...(opts.vaultPasswordFile !== undefined && { vaultPasswordFile: path.resolve(ctx.cwd, opts.vaultPasswordFile) }),
    ...(opts.askVaultPass !== undefined && { askVaultPass: opts.askVaultPass }),
  });
  if (warnings.length > 0) ctx.reporter.err(formatDiagnostics(warnings, 'text'));
  const outDir = path.resolve(ctx.cwd, opts.output ?? defaultOutputDir(opts.inventory));
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
  program
    .command('render')
    .description('Validate the inventory and write the Ansible tree (roles, playbooks, ansible.cfg, generated vars).')
    .requiredOption('-i, --inventory <file>', 'Ansible YAML inventory describing the cluster')
    .option('-s, --secrets <file>', 'secrets file to check as well (never written to the tree)')
    .option('-o, --output <dir>', 'output directory (default: "rendered" beside the inventory)')
    .option('--check', 'write nothing; exit 1 if the tree would change')
    .option('--diff', 'show how each file would change')
    .option('--force', 'overwrite files in the output directory that pag-ansible did not write')
    .option('--vault-password-file <file>', 'password file for an ansible-vault encrypted secrets file')
    .addOption(new Option('--ask-vault-pass', 'prompt for the vault password (terminal only)'))
    .addHelpText(
      'after',
      '\nExamples:\n  pag-ansible render -i inventory.yml -o ansible/\n  pag-ansible render -i inventory.yml --check --diff   # in CI: is the committed tree current?',
    )
    .action(async (opts: RenderOptions) => {
      await renderAction(opts, ctx);
    });
}

/** `pag-ansible validate`: check an inventory (and secrets file) and list every finding. */
import type { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { loadCluster, type LoadClusterResult } from '../config/index.js';
import { formatDiagnostics, type Diagnostic, type DiagnosticFormat } from '../config/diagnostics.js';
import { PagError, UsageError } from '../errors.js';

const FORMATS: readonly DiagnosticFormat[] = ['text', 'json', 'github'];

interface ValidateOptions {
  inventory: string;
  secrets?: string;
  vaultPasswordFile?: string;
  askVaultPass?: boolean;
  format: string;
}

export function registerValidate(program: Command, ctx: CommandContext): void {
  program
    .command('validate')
    .description('Check an inventory (and secrets file) against the schemas and the cluster rules.')
    .requiredOption('-i, --inventory <file>', 'the Ansible YAML inventory describing the cluster')
    .option('-s, --secrets <file>', 'the secrets file (may be encrypted with ansible-vault)')
    .option('--vault-password-file <file>', 'file holding the vault password of encrypted files')
    .option('--ask-vault-pass', 'prompt for the vault password (needs a terminal)')
    .option('--format <format>', `how to print findings: ${FORMATS.join(', ')}`, 'text')
    .action(async (opts: ValidateOptions) => {
      ctx.exitCode = await validate(opts, ctx);
    });
}

async function validate(opts: ValidateOptions, ctx: CommandContext): Promise<number> {
  if (!(FORMATS as readonly string[]).includes(opts.format)) {
    throw new UsageError(`unknown --format ${JSON.stringify(opts.format)}`, `use one of: ${FORMATS.join(', ')}`);
  }
  const format = opts.format as DiagnosticFormat;
  let result: LoadClusterResult;
  try {
    result = await loadCluster({
      inventoryPath: opts.inventory,
      ...(opts.secrets !== undefined ? { secretsPath: opts.secrets } : {}),
      ...(opts.vaultPasswordFile !== undefined ? { vaultPasswordFile: opts.vaultPasswordFile } : {}),
      ...(opts.askVaultPass !== undefined ? { askVaultPass: opts.askVaultPass } : {}),
      cwd: ctx.cwd,
      env: ctx.env,
    });
  } catch (e) {
    // Machine readers get their document even when a file cannot be read; main() still prints it and exits 2.
    if (format !== 'text' && e instanceof PagError) {
      const entry: Diagnostic = { file: e.file ?? opts.inventory, line: 1, col: 1, severity: 'error', rule: 'file-unreadable', message: e.message };
      ctx.reporter.out(formatDiagnostics([entry], format));
    }
    throw e;
  }

  // JSON consumers always get a document, even an empty list; text and github print nothing when clean.
  if (format === 'json' || result.diagnostics.length > 0) ctx.reporter.out(formatDiagnostics(result.diagnostics, format));

  // One summary line per file, each with its own counts.
  const files = [opts.inventory, ...(opts.secrets !== undefined ? [opts.secrets] : [])];
  for (const file of files) {
    const own = result.diagnostics.filter((d) => d.file === file);
    const errors = count(own, 'error');
    const warnings = count(own, 'warning');
    if (errors > 0) {
      ctx.reporter.err(`${file}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`);
      continue;
    }
    const warned = warnings > 0 ? ` with ${plural(warnings, 'warning')}` : '';
    if (file === opts.inventory && result.config) {
      const { workers, prefect_work_pools: pools } = result.config;
      ctx.reporter.err(`${file}: OK${warned} (1 server, ${plural(workers.length, 'worker')}, ${plural(pools.length, 'pool')})`);
    } else if (file === opts.inventory || result.secrets || result.config) {
      ctx.reporter.err(`${file}: OK${warned}`);
    } else {
      // The secrets file parsed, but its rules depend on an inventory that has errors.
      ctx.reporter.err(`${file}: no errors found${warned} (checked fully once ${opts.inventory} is valid)`);
    }
  }
  return result.config ? 0 : 1;
}

function count(diagnostics: Diagnostic[], severity: Diagnostic['severity']): number {
  return diagnostics.filter((d) => d.severity === severity).length;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

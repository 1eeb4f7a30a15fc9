/**
 * What the commands that read a cluster share: the inventory/secrets/vault/output options, and the step
 * "validate the inventory (and secrets), print the warnings, render the tree" that runs before Ansible does.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { loadClusterOrThrow } from '../config/index.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import type { ClusterConfig, Secrets } from '../config/types.js';
import { renderTree } from '../render/index.js';
import { matchPattern, type PatternInventory } from '../ansible/host-pattern.js';
import { UsageError } from '../errors.js';

export interface ClusterInputOptions {
  inventory: string;
  secrets?: string;
  vaultPasswordFile?: string;
  askVaultPass?: boolean;
  output?: string;
  force?: boolean;
}

/** Where the tree goes when -o is not given: `rendered/` beside the inventory. */
export function defaultOutputDir(inventoryPath: string): string {
  return path.join(path.dirname(inventoryPath), 'rendered');
}

export function resolveOutputDir(opts: ClusterInputOptions, ctx: CommandContext): string {
  return path.resolve(ctx.cwd, opts.output ?? defaultOutputDir(opts.inventory));
}

/**
 * Adds -i, the secrets options (`secrets`: required, optional, or none at all) and -o/--force.
 * `secretsHelp` names what the command needs from the secrets file.
 */
export function addClusterOptions(cmd: Command, secrets: { mode: 'required' | 'optional' | 'none'; help?: string }): Command {
  cmd.requiredOption('-i, --inventory <file>', 'Ansible YAML inventory describing the cluster');
  if (secrets.mode !== 'none') {
    const help = secrets.help ?? 'secrets file (prefect_api_auth_string, prefect_database_password)';
    if (secrets.mode === 'required') cmd.requiredOption('-s, --secrets <file>', help);
    else cmd.option('-s, --secrets <file>', help);
    cmd
      .option('--vault-password-file <file>', 'password file for an ansible-vault encrypted secrets file')
      .addOption(new Option('--ask-vault-pass', 'prompt for the vault password (terminal only)'));
  }
  return cmd
    .option('-o, --output <dir>', 'where to render the tree (default: "rendered" beside the inventory)')
    .option('--force', 'overwrite files in the output directory that pag-ansible did not write');
}

/** Check and diff mode, and the arguments after `--`: what every command running ansible-playbook takes. */
export function addPlaybookOptions(cmd: Command, passthroughExample: string): Command {
  return cmd
    .option('--check', 'Ansible check mode: report what would change, change nothing')
    .option('--diff', 'show the changes Ansible makes (or would make) to files')
    .argument('[ansible-args...]', `after --: passed to ansible-playbook as they are (e.g. -- ${passthroughExample})`);
}

/** The functions the commands call; replaced in tests. */
export interface ClusterDeps {
  loadClusterOrThrow: typeof loadClusterOrThrow;
  renderTree: typeof renderTree;
}

export const clusterDeps: ClusterDeps = { loadClusterOrThrow, renderTree };

export async function loadClusterInput(
  opts: ClusterInputOptions,
  ctx: CommandContext,
  deps: Pick<ClusterDeps, 'loadClusterOrThrow'>,
  need: { secrets: boolean; artifacts: boolean },
): Promise<{ config: ClusterConfig; secrets: Secrets | undefined }> {
  const { config, secrets, warnings } = await deps.loadClusterOrThrow({
    // As typed, so diagnostics show the user's spelling; loadCluster resolves them against cwd.
    inventoryPath: opts.inventory,
    ...(opts.secrets !== undefined && { secretsPath: opts.secrets }),
    ...(opts.vaultPasswordFile !== undefined && { vaultPasswordFile: opts.vaultPasswordFile }),
    ...(opts.askVaultPass !== undefined && { askVaultPass: opts.askVaultPass }),
    cwd: ctx.cwd,
    env: ctx.env,
    requireSecrets: need.secrets,
    requireArtifacts: need.artifacts,
  });
  if (warnings.length > 0) ctx.reporter.err(formatDiagnostics(warnings, 'text'));
  return { config, secrets };
}

/** Validate, then write the tree Ansible will run from; returns its absolute path. */
export async function loadAndRender(
  opts: ClusterInputOptions,
  ctx: CommandContext,
  deps: ClusterDeps,
  need: { secrets: boolean; artifacts: boolean; limit?: string | undefined },
): Promise<{ config: ClusterConfig; secrets: Secrets | undefined; outDir: string }> {
  const { config, secrets } = await loadClusterInput(opts, ctx, deps, need);
  if (need.limit !== undefined) checkLimitMatches(need.limit, config, opts.inventory);
  const outDir = resolveOutputDir(opts, ctx);
  await ensureSiteCertificates(config, ctx);
  const rendered = await deps.renderTree(config, outDir, { force: opts.force ?? false });
  ctx.reporter.err(
    `pag-ansible: wrote the Ansible tree to ${path.relative(ctx.cwd, outDir) || '.'} (${rendered.written.length} written, ${rendered.unchanged.length} unchanged, ${rendered.removed.length} removed)`,
  );
  return { config, secrets, outDir };
}

/** With prefect_api.tls source site_ca: the site CA and the server's certificate exist and are current (see src/tls). */
export async function ensureSiteCertificates(config: ClusterConfig, ctx: CommandContext): Promise<void> {
  if (config.prefect_api_tls?.source !== 'site_ca') return;
  const { ensureSiteCa } = await import('../tls/site-ca.js');
  const result = await ensureSiteCa(config);
  if (result.written.length > 0) {
    ctx.reporter.err(
      `pag-ansible: wrote ${result.written.join(', ')}${result.reason !== undefined ? ` (server certificate issued: ${result.reason})` : ''}; keep the keys in it private and backed up`,
    );
  }
}

/** The hosts and groups of the rendered inventory (what Ansible's patterns are matched against). */
export function patternInventory(config: ClusterConfig): PatternInventory {
  const workers = config.workers.map((w) => w.name);
  const hosts = [...new Set([config.server.name, ...workers])];
  return {
    hosts,
    groups: new Map([
      ['all', hosts],
      ['ungrouped', []],
      ['prefect_server', [config.server.name]],
      ['prefect_workers', workers],
    ]),
  };
}

/** A --limit that selects no host would reach Ansible and fail there: refuse it, naming the nearest host or group. */
export function checkLimitMatches(limit: string, config: ClusterConfig, inventoryShown: string): string[] | undefined {
  const inventory = patternInventory(config);
  const match = matchPattern(limit, inventory);
  if (match === undefined || match.hosts.length > 0) return match?.hosts;
  const miss = match.unmatched.find((u) => u.suggestion !== undefined) ?? match.unmatched[0];
  const suggestion = miss?.suggestion !== undefined ? `; did you mean ${JSON.stringify(miss.suggestion)}?` : '';
  const what = miss && miss.term !== limit ? ` (${miss.term} matches nothing)` : '';
  const groups = [...inventory.groups.keys()].filter((g) => g !== 'ungrouped');
  const shown = inventory.hosts.length > 8 ? `${inventory.hosts.slice(0, 8).join(', ')}, …` : inventory.hosts.join(', ');
  throw new UsageError(
    `--limit ${limit} matches no host of ${inventoryShown}${what}${suggestion}`,
    `hosts: ${shown}; groups: ${groups.join(', ')}`,
  );
}

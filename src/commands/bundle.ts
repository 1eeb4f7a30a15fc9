/**
 * `pag-ansible bundle build|verify|inspect`: the air-gapped bundle. Option parsing and output only; the work is
 * in src/bundle/ (imported lazily: the other commands never pay for it).
 */
import os from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { CommandContext } from '../cli/context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import type { ProgressEvent } from '../bundle/build.js';

interface BuildCliOptions {
  inventory: string;
  output?: string;
  flow: string[];
  target?: string;
  arch?: string;
  nodeVersion?: string;
  cacheDir?: string;
  force?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.PAG_BUNDLE_CACHE) return env.PAG_BUNDLE_CACHE;
  return process.getuid?.() === 0 ? '/var/cache/pag-ansible-bundle' : path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pag-ansible-bundle');
}

export const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** A bar on a terminal, plain lines otherwise (CI logs). */
export function progressPrinter(ctx: CommandContext, tty: boolean): { on: (e: ProgressEvent) => void; end: () => void } {
  let barShown = false;
  let lastQuarter = -1;
  const clear = () => {
    if (barShown) process.stderr.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    on: (e) => {
      if (e.kind === 'step') {
        clear();
        lastQuarter = -1;
        ctx.reporter.err(`• ${e.label}`);
        return;
      }
      if (tty) {
        const width = 30;
        const filled = Math.round((e.done / Math.max(1, e.total)) * width);
        process.stderr.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.label} ${e.done}/${e.total}`);
        barShown = true;
      } else {
        const quarter = Math.floor((e.done / Math.max(1, e.total)) * 4);
        if (quarter !== lastQuarter) ctx.reporter.err(`  ${e.label}: ${e.done}/${e.total}`);
        lastQuarter = quarter;
      }
    },
    end: clear,
  };
}

async function buildAction(opts: BuildCliOptions, ctx: CommandContext): Promise<void> {
  const [{ loadClusterOrThrow }, { formatDiagnostics }, build, targets, archive] = await Promise.all([
    import('../config/index.js'),
    import('../config/diagnostics.js'),
    import('../bundle/build.js'),
    import('../bundle/targets.js'),
    import('../bundle/archive.js'),
  ]);
  const targetName = opts.target ?? (await targets.hostTarget());
  if (targetName === undefined) {
    throw new UsageError('this machine is not a release bundle build knows; name the hosts\' release', `Pass --target ${Object.keys(targets.TARGETS).join('|')}.`);
  }
  const target = targets.parseTarget(targetName);
  const arch = opts.arch !== undefined ? targets.parseArch(opts.arch) : targets.defaultArch();
  const nodeVersion = opts.nodeVersion ?? process.versions.node;
  if (!/^\d+\.\d+\.\d+$/.test(nodeVersion)) throw new UsageError(`--node-version ${nodeVersion} is not a version like 20.19.0`);
  const loaded = await loadClusterOrThrow({ inventoryPath: opts.inventory, cwd: ctx.cwd, env: ctx.env });
  // Missing artefacts are only warnings here: bundle build makes them when it can, and says so when it cannot.
  if (loaded.warnings.length > 0) ctx.reporter.err(formatDiagnostics(loaded.warnings, 'text'));
  const inventoryText = await readFile(path.resolve(ctx.cwd, opts.inventory), 'utf8');
  const output = path.resolve(ctx.cwd, opts.output ?? `${build.bundleName(loaded.config, target, arch)}.tar.gz`);
  const progress = progressPrinter(ctx, Boolean(process.stderr.isTTY) && !ctx.env.CI);
  let result;
  try {
    result = await build.buildBundle({
      config: loaded.config,
      inventoryText,
      inventoryDisplay: opts.inventory,
      output,
      force: opts.force ?? false,
      flows: opts.flow.map((f) => path.resolve(ctx.cwd, f)),
      target,
      arch,
      nodeVersion,
      cacheDir: path.resolve(ctx.cwd, opts.cacheDir ?? defaultCacheDir(ctx.env)),
      epoch: archive.sourceDateEpoch(ctx.env),
      env: ctx.env,
      progress: progress.on,
    });
  } finally {
    progress.end();
  }
  const lines = [
    `${path.relative(ctx.cwd, result.file) || result.file}: ${mib(result.bytes)} compressed, built in ${result.seconds.toFixed(1)} s`,
    `  for ${target.name} ${arch}; Prefect: ${result.environment}`,
    `  controller: ${result.controllerPackages.join(', ')}; hosts: ${result.hostPackages.join(', ')}`,
    ...result.parts.map((p) => `  ${p.label.padEnd(20)} ${mib(p.bytes).padStart(10)}  ${p.files} files`),
    `  SBOM: ${Object.entries(result.components).sort().map(([k, n]) => `${n} ${k}`).join(', ')} components (bundle inspect lists them)`,
  ];
  ctx.reporter.out(lines.join('\n'));
  ctx.exitCode = 0;
}

async function verifyAction(target: string, ctx: CommandContext): Promise<void> {
  const { verifyBundle } = await import('../bundle/inspect.js');
  const abs = path.resolve(ctx.cwd, target);
  const r = await verifyBundle(abs);
  const problems = [...r.missing.map((f) => `missing: ${f}`), ...r.extra.map((f) => `extra:   ${f}`), ...r.altered.map((f) => `altered: ${f}`)];
  if (problems.length > 0) {
    ctx.reporter.out(problems.join('\n'));
    throw new CheckFailedError(
      `${target} does not match its SHA256SUMS: ${r.missing.length} missing, ${r.extra.length} extra, ${r.altered.length} altered`,
      'Copy the bundle again from the machine that built it.',
    );
  }
  ctx.reporter.out(`${target}: all ${r.checked} files match SHA256SUMS`);
  ctx.exitCode = 0;
}

async function inspectAction(target: string, opts: { format: string }, ctx: CommandContext): Promise<void> {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`unknown --format ${JSON.stringify(opts.format)}`, 'use one of: text, json');
  const { inspectBundle, formatInspect } = await import('../bundle/inspect.js');
  const view = await inspectBundle(path.resolve(ctx.cwd, target));
  ctx.reporter.out(opts.format === 'json' ? JSON.stringify(view, null, 2) : formatInspect(view));
  ctx.exitCode = 0;
}

export function registerBundle(program: Command, ctx: CommandContext): void {
  const bundle = program.command('bundle').description('Build, verify and inspect the air-gapped bundle (everything an isolated network needs, in one tarball).');
  bundle
    .command('build')
    .description('On a connected machine: build the bundle for the cluster an inventory describes.')
    .requiredOption('-i, --inventory <file>', 'the Ansible YAML inventory describing the cluster')
    .option('-o, --output <file>', 'the tarball to write (default: pag-bundle-prefect-<version>-<target>-<arch>.tar.gz)')
    .option('--flow <dir>', 'a flow directory to take along (code and packed-env.tar); repeatable', collect, [])
    .option('--target <release>', "the hosts' release: debian-13, debian-12 or ubuntu-24.04 (default: this machine's)")
    .option('--arch <arch>', "the controller's and hosts' architecture: x64 or arm64 (default: this machine's)")
    .option('--node-version <version>', 'the Node runtime to carry (default: the one running pag-ansible)')
    .option('--cache-dir <dir>', 'downloads kept between builds (default: /var/cache/pag-ansible-bundle as root, else ~/.cache/pag-ansible-bundle; env PAG_BUNDLE_CACHE)')
    .option('--force', 'replace the output file if it exists')
    .addHelpText(
      'after',
      [
        '',
        'Two builds from the same inputs are byte-identical (SOURCE_DATE_EPOCH sets every timestamp).',
        'Exit code: 0 built; 1 a check failed (wrong Prefect version in the environment); 2 usage, I/O or a package',
        'tool failing (unknown package, unreachable registry); 3 a tool is missing (apt-get, dpkg-scanpackages, npm).',
        '',
        'Examples:',
        '  pag-ansible bundle build -i inventory.yml --target debian-13',
        '  pag-ansible bundle build -i inventory.yml -o site.tar.gz --flow flows/etl --flow flows/report',
      ].join('\n'),
    )
    .action(async (opts: BuildCliOptions) => buildAction(opts, ctx));
  bundle
    .command('verify')
    .description('Check a bundle (tarball or unpacked directory) against its SHA256SUMS; name every missing, extra or altered file.')
    .argument('<bundle>', 'the .tar.gz or the unpacked directory')
    .addHelpText('after', '\nExit code: 0 every file matches, 1 a file is missing, extra or altered, 2 not a bundle.')
    .action(async (target: string) => verifyAction(target, ctx));
  bundle
    .command('inspect')
    .description('List the components and versions of a bundle, from its SBOM (sbom.cdx.json).')
    .argument('<bundle>', 'the .tar.gz or the unpacked directory')
    .option('--format <format>', 'text or json', 'text')
    .action(async (target: string, opts: { format: string }) => inspectAction(target, opts, ctx));
}

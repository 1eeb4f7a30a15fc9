/**
 * The Prefect environment for the hosts, from the inventory's source: a pixi-pack tarball (given, or made by
 * `pixi-pack` from a generated manifest when pixi is on PATH), or a wheelhouse (given, or made by
 * `pip download` for the hosts' platform and Python), plus pixi-unpack when one is named. Whatever goes in must
 * carry exactly the inventory's Prefect version.
 */
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CheckFailedError, FileError, MissingToolError } from '../errors.js';
import type { ClusterConfig } from '../config/types.js';
import { prefectVersionsInPackedEnv } from '../flow/packed-env.js';
import { sha256 } from '../util/hash.js';
import { runTool } from './errors.js';
import type { ArchName, Target } from './targets.js';
import { parseWheelName } from './wheel.js';

export const HOST_PYTHON: Record<string, string> = { 'debian-13': '3.13', 'debian-12': '3.11', 'ubuntu-24.04': '3.12' };

export interface PreparedEnvironment {
  /** Values to put into the bundle's inventory under prefect_environment (paths relative to the inventory). */
  inventoryPaths: Record<string, string>;
  /** Debian packages the hosts need for this environment. */
  hostPackages: string[];
  /** What was done, for the summary. */
  description: string;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

async function onPath(tool: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const r = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false, env, extendEnv: false });
  return r.exitCode === 0;
}

export interface EnvOptions {
  cacheDir: string;
  target: Target;
  arch: ArchName;
  env: NodeJS.ProcessEnv;
}

/** Writes the environment into `<stage>/artifacts/` and returns how the bundle's inventory names it. */
export async function prepareEnvironment(config: ClusterConfig, stage: string, opts: EnvOptions): Promise<PreparedEnvironment> {
  // Controller paths stay as the inventory wrote them (relocatable rendered tree): resolve them against its directory.
  const env = onController(config);
  const artifacts = path.join(stage, 'artifacts');
  await mkdir(artifacts, { recursive: true });
  const inventoryPaths: Record<string, string> = {};
  const hostPackages: string[] = [];
  let description: string;

  if (env.source === 'pixi-pack') {
    let tarball = env.pixi_pack_tarball;
    if (!(await exists(tarball))) tarball = await runPixiPack(config, opts);
    const versions = await prefectVersionsInPackedEnv(tarball);
    checkVersion(versions, config.prefect_version, tarball);
    await copyFile(tarball, path.join(artifacts, 'prefect-env.tar'));
    inventoryPaths.pixi_pack_tarball = 'artifacts/prefect-env.tar';
    description = `pixi-pack environment with prefect ${config.prefect_version}`;
  } else if (env.source === 'wheelhouse') {
    let dir = env.wheelhouse_dir;
    if (!(await hasWheels(dir))) dir = await runPipDownload(config, opts);
    await checkSha256Sums(dir);
    const wheels = (await readdir(dir)).filter((f) => f.endsWith('.whl'));
    const versions = wheels.map(parseWheelName).filter((w) => w?.name === 'prefect').map((w) => w?.version as string);
    checkVersion(versions, config.prefect_version, dir);
    await cp(dir, path.join(artifacts, 'wheelhouse'), { recursive: true, dereference: true, filter: (f) => path.basename(f) !== '.complete' });
    inventoryPaths.wheelhouse_dir = 'artifacts/wheelhouse';
    hostPackages.push('python3-venv');
    hostPackages.push(...(env.system_packages ?? []));
    // A wheelhouse made for a distribution's own Python packages (e.g. ../prefect-wheelhouse) lists them.
    const listed = await readFile(path.join(dir, 'debian-packages.txt'), 'utf8').catch(() => '');
    hostPackages.push(...listed.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== ''));
    description = `wheelhouse with prefect ${config.prefect_version} (${wheels.length} wheels)`;
  } else {
    description = `Prefect already installed at ${env.prefix} on the hosts (nothing to carry)`;
  }
  if (env.pixi_unpack_binary !== undefined) {
    if (!(await exists(env.pixi_unpack_binary))) {
      throw new FileError(`pixi_unpack_binary ${env.pixi_unpack_binary} does not exist on this machine`, 'Download the pixi-unpack release binary for the hosts and name it in the inventory.');
    }
    await copyFile(env.pixi_unpack_binary, path.join(artifacts, 'pixi-unpack'));
    inventoryPaths.pixi_unpack_binary = 'artifacts/pixi-unpack';
  }
  return { inventoryPaths, hostPackages, description };
}

/** The environment source with its controller paths made absolute (relative ones are relative to the inventory). */
function onController(config: ClusterConfig): ClusterConfig['prefect_environment'] {
  const env = config.prefect_environment;
  const abs = (p: string) => path.resolve(path.dirname(config.inventoryPath), p);
  if (env.source === 'pixi-pack') return { ...env, pixi_pack_tarball: abs(env.pixi_pack_tarball), pixi_unpack_binary: abs(env.pixi_unpack_binary) };
  const unpack = env.pixi_unpack_binary !== undefined ? { pixi_unpack_binary: abs(env.pixi_unpack_binary) } : {};
  if (env.source === 'wheelhouse') return { ...env, wheelhouse_dir: abs(env.wheelhouse_dir), ...unpack };
  return { ...env, ...unpack };
}

function checkVersion(found: string[], wanted: string, where: string): void {
  if (found.length === 1 && found[0] === wanted) return;
  throw new CheckFailedError(
    found.length === 0
      ? `${where} holds no prefect package, but the inventory's prefect_version is ${wanted}`
      : `${where} holds prefect ${found.join(', ')}, but the inventory's prefect_version is ${wanted}`,
    'Make the environment for the inventory\'s version, or change prefect_version.',
  );
}

async function hasWheels(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [] as string[])).some((f) => f.endsWith('.whl'));
}

/** Checks a wheelhouse's own SHA256SUMS, when it has one, before anything is taken from it. */
export async function checkSha256Sums(dir: string): Promise<void> {
  const text = await readFile(path.join(dir, 'SHA256SUMS'), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) continue;
    const file = path.join(dir, m[2] as string);
    const data = await readFile(file).catch(() => undefined);
    if (data === undefined) throw new CheckFailedError(`${file} is listed in ${dir}/SHA256SUMS but missing`);
    if (sha256(data) !== m[1]) {
      throw new CheckFailedError(`${file} does not match its checksum in ${dir}/SHA256SUMS`, 'Copy the wheelhouse again from its source.');
    }
  }
}

/** The pixi manifest pinning the cluster's Prefect (and asyncpg with PostgreSQL, prefect-redis with Redis). */
export function pixiManifest(config: ClusterConfig): string {
  const deps = [`prefect = "==${config.prefect_version}"`, 'python = "3.12.*"'];
  if (config.prefect_database.type === 'postgresql') deps.push('asyncpg = "*"');
  // Redis as broker, cache and lease storage lives in the prefect-redis integration.
  if (config.prefect_redis !== undefined) deps.push('prefect-redis = "*"');
  return [
    '[workspace]',
    'name = "prefect-env"',
    'channels = ["conda-forge"]',
    'platforms = ["linux-64", "linux-aarch64"]',
    '',
    '[dependencies]',
    ...deps.sort(),
    '',
  ].join('\n');
}

async function runPixiPack(config: ClusterConfig, opts: EnvOptions): Promise<string> {
  const env = config.prefect_environment as { pixi_pack_tarball: string };
  if (!(await onPath('pixi', opts.env))) {
    throw new MissingToolError(
      `prefect_environment.pixi_pack_tarball ${env.pixi_pack_tarball} does not exist, and pixi is not on PATH to make it`,
      'Install pixi (https://pixi.sh) on this machine, or make the tarball with `pixi-pack` and name it in the inventory.',
    );
  }
  const manifest = pixiManifest(config);
  const platform = opts.arch === 'arm64' ? 'linux-aarch64' : 'linux-64';
  const key = createHash('sha256').update(manifest).update(platform).digest('hex').slice(0, 16);
  const cached = path.join(opts.cacheDir, 'pixi-pack', `${key}.tar`);
  if (await exists(cached)) return cached;
  await mkdir(path.dirname(cached), { recursive: true });
  const work = await mkdtemp(path.join(opts.cacheDir, 'pixi-pack', '.work-'));
  try {
    await writeFile(path.join(work, 'pixi.toml'), manifest);
    const what = `the Prefect ${config.prefect_version} environment (pixi)`;
    await runTool('pixi', ['lock', '--manifest-path', path.join(work, 'pixi.toml')], what, { cwd: work, env: opts.env });
    await runTool('pixi', ['exec', 'pixi-pack', path.join(work, 'pixi.toml'), '--platform', platform, '--output-file', path.join(work, 'env.tar')], what, { cwd: work, env: opts.env });
    await rename(path.join(work, 'env.tar'), cached);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return cached;
}

async function runPipDownload(config: ClusterConfig, opts: EnvOptions): Promise<string> {
  const env = config.prefect_environment as { wheelhouse_dir: string };
  const pip = (await onPath('pip3', opts.env)) ? 'pip3' : (await onPath('pip', opts.env)) ? 'pip' : undefined;
  if (!pip) {
    throw new MissingToolError(
      `prefect_environment.wheelhouse_dir ${env.wheelhouse_dir} holds no wheels, and pip is not on PATH to download them`,
      'Make the wheelhouse with `pip download` on a machine that reaches a Python package index, and name it in the inventory.',
    );
  }
  const python = HOST_PYTHON[opts.target.name] ?? '3.12';
  const machine = opts.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const reqs = [
    `prefect==${config.prefect_version}`,
    ...(config.prefect_database.type === 'postgresql' ? ['asyncpg'] : []),
    ...(config.prefect_redis !== undefined ? ['prefect-redis'] : []),
  ];
  const key = createHash('sha256').update(`${reqs.join(' ')}|${python}|${machine}`).digest('hex').slice(0, 16);
  const dest = path.join(opts.cacheDir, 'wheelhouse', key);
  if (await exists(path.join(dest, '.complete'))) return dest;
  const tmp = `${dest}.tmp.${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const platforms = [`manylinux_2_28_${machine}`, `manylinux_2_17_${machine}`, `manylinux2014_${machine}`, 'any'].flatMap((p) => ['--platform', p]);
  await runTool(
    pip,
    ['download', '--dest', tmp, '--only-binary=:all:', ...platforms, '--python-version', python, '--implementation', 'cp', ...reqs],
    `prefect ${config.prefect_version} for Python ${python} on ${machine}`,
    { env: opts.env },
  );
  await writeFile(path.join(tmp, '.complete'), '');
  await rm(dest, { recursive: true, force: true });
  await rename(tmp, dest);
  return dest;
}

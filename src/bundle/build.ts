/**
 * `bundle build`: everything an isolated network needs, in one reproducible tarball.
 *
 *   pag-bundle-<prefect>-<target>-<arch>/
 *     install.sh  SHA256SUMS  sbom.cdx.json  inventory.yml  secrets.template.yml
 *     pag-ansible/{bin/pag-ansible, node/, app/}   the CLI with its own Node runtime
 *     apt/                                          flat repository: Ansible for the controller (install.sh)
 *     artifacts/                                    the Prefect environment (pixi-pack tarball or wheelhouse), pixi-unpack,
 *                                                   apt-repository.tar (the hosts' OS packages, one file to copy)
 *     flows/<name>/                                 flows given with --flow (code and packed environment)
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { list } from 'tar';
import { FileError, OverwriteError, UsageError } from '../errors.js';
import type { ClusterConfig } from '../config/types.js';
import { checkPackedEnvPrefect } from '../flow/packed-env.js';
import { sha256File } from '../util/hash.js';
import { packageVersion } from '../util/package-root.js';
import { downloadPackages, readRepoPackages, referenceStatus, updateLists, writeFlatRepo, type DebPackage } from './apt.js';
import { writeReproducibleTarball } from './archive.js';
import { rewriteInventory } from './inventory-copy.js';
import { computeManifest, formatManifest, listFiles, MANIFEST } from './manifest.js';
import { prepareEnvironment, type PreparedEnvironment } from './prefect-env.js';
import { fetchNodeRuntime, LAUNCHER, npmComponents, stageApp, type NodeRuntime } from './runtime.js';
import { buildSbom, condaPurl, debPurl, npmPurl, pypiPurl, type Component } from './sbom.js';
import { installScript, secretsTemplate } from './scripts.js';
import { ARCHES, findMirror, type ArchName, type Target } from './targets.js';
import { parseWheelMetadata, parseWheelName, wheelMetadata } from './wheel.js';

/** The hosts' flat repository, packed (uncompressed: .debs are compressed already) as artifacts/apt-repository.tar. */
const HOST_REPO = 'apt-repository';
const HOST_REPO_ARCHIVE = `artifacts/${HOST_REPO}.tar`;

export type ProgressEvent = { kind: 'step'; label: string } | { kind: 'bar'; label: string; done: number; total: number };

export interface BuildOptions {
  config: ClusterConfig;
  /** The inventory's text as the user wrote it (copied in with its artefact paths rewritten). */
  inventoryText: string;
  inventoryDisplay: string;
  /** Absolute path of the tarball to write. */
  output: string;
  force: boolean;
  flows: string[];
  target: Target;
  arch: ArchName;
  nodeVersion: string;
  cacheDir: string;
  epoch: number;
  env: NodeJS.ProcessEnv;
  progress?: (e: ProgressEvent) => void;
}

/** What reaches the network; replaced in unit tests. */
export interface BuildDeps {
  fetchNodeRuntime: (cacheDir: string, arch: ArchName, version: string, dest: string) => Promise<NodeRuntime>;
  stageApp: (cacheDir: string, dest: string) => Promise<void>;
  /** Downloads PKGS and what a minimal host of the target lacks for them; returns the .deb files. */
  debPackages: (o: { target: Target; arch: ArchName; cacheDir: string; packages: string[] }) => Promise<{ packages: DebPackage[]; files: string[] }>;
  prepareEnvironment: typeof prepareEnvironment;
}

export async function aptDebPackages(o: { target: Target; arch: ArchName; cacheDir: string; packages: string[] }): Promise<{ packages: DebPackage[]; files: string[] }> {
  const debArch = ARCHES[o.arch].deb;
  const ctx = { target: o.target, arch: debArch, mirror: await findMirror(o.target), root: path.join(o.cacheDir, 'apt', `${o.target.name}-${debArch}`) };
  await updateLists(ctx);
  return downloadPackages(ctx, o.packages, await referenceStatus(ctx));
}

export const defaultBuildDeps: BuildDeps = { fetchNodeRuntime, stageApp, debPackages: aptDebPackages, prepareEnvironment };

export interface BuildResult {
  file: string;
  name: string;
  bytes: number;
  seconds: number;
  parts: { label: string; bytes: number; files: number }[];
  components: Record<string, number>;
  environment: string;
  controllerPackages: string[];
  hostPackages: string[];
}

export function bundleName(config: ClusterConfig, target: Target, arch: ArchName): string {
  return `pag-bundle-prefect-${config.prefect_version}-${target.name}-${arch}`;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

export async function buildBundle(o: BuildOptions, deps: BuildDeps = defaultBuildDeps): Promise<BuildResult> {
  const t0 = Date.now();
  const step = (label: string) => o.progress?.({ kind: 'step', label });
  const { config, target, arch } = o;
  if ((await exists(o.output)) && !o.force) {
    throw new OverwriteError(`${o.output} already exists`, 'Pass --force to replace it, or choose another file with -o.');
  }
  const flowNames = new Set<string>();
  for (const f of o.flows) {
    const name = path.basename(f);
    if (!(await stat(f).then((s) => s.isDirectory(), () => false))) throw new UsageError(`--flow ${f} is not a directory`);
    if (flowNames.has(name)) throw new UsageError(`two --flow directories are named ${name}; a bundle keeps flows by directory name`);
    flowNames.add(name);
  }

  const name = bundleName(config, target, arch);
  await mkdir(path.dirname(o.output), { recursive: true });
  const stage = await mkdtemp(path.join(path.dirname(o.output), '.pag-bundle-'));
  const root = path.join(stage, name);
  try {
    // 1. pag-ansible with its own Node.
    step(`Node ${o.nodeVersion} runtime for linux-${arch} (npm: ${ARCHES[arch].npm})`);
    const node = await deps.fetchNodeRuntime(o.cacheDir, arch, o.nodeVersion, path.join(root, 'pag-ansible', 'node'));
    step('pag-ansible and its production dependencies');
    await deps.stageApp(o.cacheDir, path.join(root, 'pag-ansible', 'app'));
    await mkdir(path.join(root, 'pag-ansible', 'bin'), { recursive: true });
    await writeFile(path.join(root, 'pag-ansible', 'bin', 'pag-ansible'), LAUNCHER);
    await chmod(path.join(root, 'pag-ansible', 'bin', 'pag-ansible'), 0o755);

    // 2. The Prefect environment.
    step(`Prefect ${config.prefect_version} environment (${config.prefect_environment.source})`);
    const env: PreparedEnvironment = await deps.prepareEnvironment(config, root, { cacheDir: o.cacheDir, target, arch, env: o.env });

    // 3. Debian packages: Ansible for the controller, what the roles install on the hosts.
    // ansible-core uses ssh; a minimal system has no client.
    const controllerPackages = ['ansible-core', 'openssh-client'];
    const hostPackages = [...new Set(['acl', ...postgresPackages(config), ...redisPackages(config), ...tlsPackages(config), ...env.hostPackages])].sort();
    step(`Debian packages for the controller (${target.name}): ${controllerPackages.join(', ')}, with what a minimal ${target.name} lacks`);
    const controllerDebs = await deps.debPackages({ target, arch, cacheDir: o.cacheDir, packages: controllerPackages });
    await writeFlatRepo(path.join(root, 'apt'), controllerDebs.files);
    // The hosts' repository travels to every host: one archive is one transfer, where a directory of .debs costs
    // Ansible one round trip per file.
    step(`Debian packages for the hosts (${target.name}): ${hostPackages.join(', ')}, with what a minimal ${target.name} lacks`);
    const hostDebs = await deps.debPackages({ target, arch, cacheDir: o.cacheDir, packages: hostPackages });
    await writeFlatRepo(path.join(stage, HOST_REPO), hostDebs.files);
    const hostRepoPackages = await readRepoPackages(path.join(stage, HOST_REPO));
    await mkdir(path.join(root, 'artifacts'), { recursive: true });
    await writeReproducibleTarball(stage, HOST_REPO, path.join(root, HOST_REPO_ARCHIVE), o.epoch, { gzip: false });

    // 4. Flows.
    for (const f of o.flows) {
      step(`flow ${path.basename(f)}`);
      const packed = path.join(f, 'packed-env.tar');
      if (await exists(packed)) await checkPackedEnvPrefect(packed, config.prefect_version, false);
      await cp(f, path.join(root, 'flows', path.basename(f)), {
        recursive: true,
        dereference: true,
        filter: (s) => !/(^|\/)(\.pixi|\.git|__pycache__|\.venv)$/.test(s),
      });
    }

    // 5. Inventory, secrets template, install.sh.
    await writeFile(path.join(root, 'inventory.yml'), rewriteInventory(o.inventoryText, env.inventoryPaths, o.inventoryDisplay, { prefect_apt_repository: HOST_REPO_ARCHIVE }));
    await writeFile(path.join(root, 'secrets.template.yml'), secretsTemplate(config.prefect_database.type === 'postgresql', config.prefect_redis !== undefined));
    await writeFile(path.join(root, 'install.sh'), installScript({ target: target.name, debArch: ARCHES[arch].deb, controllerPackages }));
    await chmod(path.join(root, 'install.sh'), 0o755);

    // 6. SBOM and manifest.
    step('SBOM (sbom.cdx.json) and manifest (SHA256SUMS)');
    const components = await collectComponents(root, { node, target, arch, hostRepoPackages });
    const sbom = buildSbom({ name, version: config.prefect_version, epoch: o.epoch, toolVersion: packageVersion(), components });
    await writeFile(path.join(root, 'sbom.cdx.json'), `${JSON.stringify(sbom, null, 2)}\n`);
    const sums = await computeManifest(root, (done, total) => o.progress?.({ kind: 'bar', label: 'checksums', done, total }));
    await writeFile(path.join(root, MANIFEST), formatManifest(sums));

    // 7. The tarball.
    step(`packing ${path.basename(o.output)}`);
    const parts = await partSizes(root);
    const tmpFile = path.join(stage, 'bundle.tar.gz');
    await writeReproducibleTarball(stage, name, tmpFile, o.epoch);
    await rename(tmpFile, o.output).catch(async () => {
      await copyFile(tmpFile, o.output);
    });
    const count: Record<string, number> = {};
    for (const c of components) {
      const kind = c.purl ? (/^pkg:([^/]+)/.exec(c.purl)?.[1] ?? 'other') : 'file';
      count[kind] = (count[kind] ?? 0) + 1;
    }
    return {
      file: o.output,
      name,
      bytes: (await stat(o.output)).size,
      seconds: (Date.now() - t0) / 1000,
      parts,
      components: count,
      environment: env.description,
      controllerPackages,
      hostPackages,
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** nginx, which serves the API over TLS (prefect_api.tls), installed by the server role like PostgreSQL. */
export function tlsPackages(config: ClusterConfig): string[] {
  return config.prefect_api_tls !== undefined ? ['nginx'] : [];
}

/** redis-server for a local Redis (prefect_redis.mode local), installed by the server role like PostgreSQL. */
export function redisPackages(config: ClusterConfig): string[] {
  return config.prefect_redis?.mode === 'local' ? ['redis-server'] : [];
}

function postgresPackages(config: ClusterConfig): string[] {
  const db = config.prefect_database;
  if (db.type !== 'postgresql' || db.mode !== 'local') return [];
  return [db.postgresql_version !== undefined ? `postgresql-${db.postgresql_version}` : 'postgresql'];
}

async function partSizes(root: string): Promise<{ label: string; bytes: number; files: number }[]> {
  const files = await listFiles(root);
  const parts = new Map<string, { bytes: number; files: number }>();
  for (const f of files) {
    const top = f.includes('/') ? `${f.split('/')[0]}/` : '(top-level files)';
    const p = parts.get(top) ?? { bytes: 0, files: 0 };
    p.bytes += (await stat(path.join(root, f))).size;
    p.files += 1;
    parts.set(top, p);
  }
  return [...parts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, v]) => ({ label, ...v }));
}

async function collectComponents(root: string, o: { node: NodeRuntime; target: Target; arch: ArchName; hostRepoPackages: Record<string, string>[] }): Promise<Component[]> {
  const out: Component[] = [];
  const app = path.join(root, 'pag-ansible', 'app');
  const pkg = JSON.parse(await readFile(path.join(app, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
  out.push({ type: 'application', name: pkg.name, version: pkg.version, purl: npmPurl(pkg.name, pkg.version), scope: 'controller', path: 'pag-ansible/app', ...(pkg.license && { license: pkg.license }) });
  out.push({
    type: 'platform',
    name: 'node',
    version: o.node.version,
    purl: npmPurl(o.node.package, o.node.version),
    license: o.node.license,
    scope: 'controller',
    path: 'pag-ansible/node/bin/node',
    hashes: { 'SHA-256': await sha256File(path.join(root, 'pag-ansible', 'node', 'bin', 'node')), ...sriHex(o.node.integrity) },
  });
  for (const c of await npmComponents(app)) {
    out.push({ type: 'library', name: c.name, version: c.version, purl: npmPurl(c.name, c.version), scope: 'controller', ...(c.license && { license: c.license }), ...(c.sha512 && { hashes: { 'SHA-512': c.sha512 } }) });
  }
  const debComponent = (p: Record<string, string>, at: string, scope: string): Component => ({
    type: 'library',
    name: p.Package as string,
    version: p.Version as string,
    purl: debPurl(o.target.distro, o.target.name, p.Package as string, p.Version as string, p.Architecture as string),
    path: `${at}${(p.Filename ?? '').replace(/^\.\//, '')}`,
    scope,
    ...(p.SHA256 && { hashes: { 'SHA-256': p.SHA256 } }),
  });
  if (await exists(path.join(root, 'apt', 'Packages'))) {
    for (const p of await readRepoPackages(path.join(root, 'apt'))) out.push(debComponent(p, 'apt/', 'controller'));
  }
  for (const p of o.hostRepoPackages) out.push(debComponent(p, `${HOST_REPO_ARCHIVE}!/${HOST_REPO}/`, 'hosts'));
  for (const f of await listFiles(root)) {
    const abs = path.join(root, f);
    const scope = f.startsWith('flows/') ? `flow:${f.split('/')[1]}` : 'hosts';
    if (f.endsWith('.whl')) {
      const w = parseWheelName(path.basename(f));
      const meta = parseWheelMetadata((await wheelMetadata(abs).catch(() => undefined)) ?? '');
      const name = meta.name ?? w?.name ?? path.basename(f);
      const version = meta.version ?? w?.version ?? '';
      out.push({ type: 'library', name, version, purl: pypiPurl(name, version), path: f, scope, hashes: { 'SHA-256': await sha256File(abs) }, ...(meta.license && { license: meta.license }) });
    } else if (f.endsWith('.tar') && f !== HOST_REPO_ARCHIVE && (f.startsWith('artifacts/') || f.startsWith('flows/'))) {
      out.push(...(await condaComponents(abs, f, scope)));
    } else if (path.basename(f) === 'pixi-unpack') {
      out.push({ type: 'application', name: 'pixi-unpack', path: f, scope, hashes: { 'SHA-256': await sha256File(abs) } });
    }
  }
  return out;
}

function sriHex(integrity: string): Record<string, string> {
  return integrity.startsWith('sha512-') ? { 'SHA-512': Buffer.from(integrity.slice(7), 'base64').toString('hex') } : {};
}

const CONDA = /^(?:\.\/)?channel\/([^/]+)\/(.+)-([^-]+)-([^-]+)\.(conda|tar\.bz2)$/;
const PYPI = /^(?:\.\/)?pypi\/([^/]+\.whl)$/;

/** The conda packages (and wheels) inside a pixi-pack tarball, hashed entry by entry. */
async function condaComponents(tarball: string, rel: string, scope: string): Promise<Component[]> {
  const out: Component[] = [];
  await list({
    file: tarball,
    onReadEntry: (entry) => {
      const m = CONDA.exec(entry.path);
      const w = PYPI.exec(entry.path);
      if (!m && !w) return;
      const hash = createHash('sha256');
      entry.on('data', (c: Buffer) => hash.update(c));
      entry.on('end', () => {
        if (m) {
          const [, subdir, name, version, build, ext] = m as unknown as string[];
          out.push({ type: 'library', name: name as string, version: version as string, purl: condaPurl(name as string, version as string, build as string, subdir as string, ext === 'conda' ? 'conda' : 'tar.bz2'), path: `${rel}!/${entry.path}`, scope, hashes: { 'SHA-256': hash.digest('hex') } });
        } else if (w) {
          const p = parseWheelName(w[1] as string);
          if (p) out.push({ type: 'library', name: p.name, version: p.version, purl: pypiPurl(p.name, p.version), path: `${rel}!/${entry.path}`, scope, hashes: { 'SHA-256': hash.digest('hex') } });
        }
      });
    },
  }).catch((e: unknown) => {
    throw new FileError(`cannot read ${tarball}: ${(e as Error).message}`);
  });
  return out;
}

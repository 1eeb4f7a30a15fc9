/**
 * pag_pack_dir, the controller-side action the rendered roles use to send a directory repository to the hosts as one
 * archive, run by real ansible-playbook (connection local) in a scratch directory: the archive's members and their
 * metadata, the same bytes for the same files, a repack only when the directory changes, check mode, and a clear
 * failure for a missing directory.
 * Each test runs ansible-playbook up to five times: it is given two minutes, not jest's default 5 s (a busy machine).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LOCAL_PLAY_HEAD, pagResult, pluginPlayDir, printResultTask, runLocalPlaybook } from '../../helpers/local-playbook.js';

const exec = promisify(execFile);

let dir: string;

interface PackResult {
  code: number;
  stdout: string;
  result?: { changed: boolean; packed: boolean; files: number; dest: string };
}

async function pack(src: string, dest: string, ...args: string[]): Promise<PackResult> {
  const r = await runLocalPlaybook(dir, { src, dest }, args);
  return { ...r, result: r.code === 0 ? pagResult(r.stdout) : undefined };
}

const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');
/** `tar -tv` lines, their column padding squeezed to one space. */
const members = async (archive: string) =>
  (await exec('tar', ['-tvf', archive, '--numeric-owner'])).stdout.trim().split('\n').map((l) => l.replace(/ +/g, ' '));
const member = async (archive: string, name: string) => (await exec('tar', ['-xOf', archive, name])).stdout;

async function makeRepo(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), content);
  }
}

beforeAll(async () => {
  dir = await pluginPlayDir('pag-pack-dir-', [
    ...LOCAL_PLAY_HEAD,
    '    - name: Pack',
    '      pag_pack_dir: {src: "{{ src }}", dest: "{{ dest }}", name: apt-repository}',
    '      run_once: true',
    '      register: packed',
    ...printResultTask('packed'),
  ]);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

it('packs the files under one top-level directory, owned by root, with fixed modes and times; never reports changed', async () => {
  const src = path.join(dir, 'repo-a');
  const dest = path.join(dir, 'cache', 'a.tar');
  await makeRepo(src, { Packages: 'Package: x\n', 'pool/x_1.0_amd64.deb': 'deb bytes', 'pool/y_2.0_all.deb': 'more bytes' });
  await fs.chmod(path.join(src, 'Packages'), 0o600);

  const r = await pack(src, dest);
  expect(r.code).toBe(0);
  expect(r.result).toMatchObject({ changed: false, packed: true, files: 3, dest });
  expect(await members(dest)).toEqual([
    'drwxr-xr-x 0/0 0 1970-01-01 00:00 apt-repository/',
    '-rw-r--r-- 0/0 11 1970-01-01 00:00 apt-repository/Packages',
    'drwxr-xr-x 0/0 0 1970-01-01 00:00 apt-repository/pool/',
    '-rw-r--r-- 0/0 9 1970-01-01 00:00 apt-repository/pool/x_1.0_amd64.deb',
    '-rw-r--r-- 0/0 10 1970-01-01 00:00 apt-repository/pool/y_2.0_all.deb',
  ]);
  expect(await member(dest, 'apt-repository/pool/y_2.0_all.deb')).toBe('more bytes');
}, 120_000);

it('gives the same bytes for the same files, whenever and in whatever order they were written', async () => {
  const first = path.join(dir, 'repo-b1');
  const second = path.join(dir, 'repo-b2');
  await makeRepo(first, { 'a.deb': 'A', 'b/c.deb': 'C', Packages: 'P' });
  await makeRepo(second, { Packages: 'P', 'b/c.deb': 'C', 'a.deb': 'A' });
  await fs.utimes(path.join(second, 'a.deb'), new Date('2001-01-01'), new Date('2001-01-01'));
  expect((await pack(first, path.join(dir, 'cache', 'b1.tar'))).code).toBe(0);
  expect((await pack(second, path.join(dir, 'cache', 'b2.tar'))).code).toBe(0);
  expect(await sha256(path.join(dir, 'cache', 'b2.tar'))).toBe(await sha256(path.join(dir, 'cache', 'b1.tar')));
}, 120_000);

it('leaves the archive alone while the directory is unchanged, and repacks it when a file changes, comes or goes', async () => {
  const src = path.join(dir, 'repo-c');
  const dest = path.join(dir, 'cache', 'c.tar');
  await makeRepo(src, { Packages: 'one\n', 'x.deb': 'x' });
  expect((await pack(src, dest)).result?.packed).toBe(true);
  const original = await sha256(dest);

  expect((await pack(src, dest)).result).toMatchObject({ packed: false, changed: false });

  // Touched but the same: read again, and the same bytes come out.
  await fs.utimes(path.join(src, 'x.deb'), new Date(), new Date('2020-02-02'));
  expect((await pack(src, dest)).result?.packed).toBe(true);
  expect(await sha256(dest)).toBe(original);

  await fs.writeFile(path.join(src, 'Packages'), 'two\n');
  await fs.rm(path.join(src, 'x.deb'));
  await fs.writeFile(path.join(src, 'y.deb'), 'y');
  expect((await pack(src, dest)).result).toMatchObject({ packed: true, changed: false, files: 2 });
  expect(await sha256(dest)).not.toBe(original);
  expect((await members(dest)).map((l) => l.split(' ').pop())).toEqual(['apt-repository/', 'apt-repository/Packages', 'apt-repository/y.deb']);
  expect(await member(dest, 'apt-repository/Packages')).toBe('two\n');
}, 120_000);

it('writes the archive in check mode too (the copy after it compares against it), still reporting no change', async () => {
  const src = path.join(dir, 'repo-d');
  const dest = path.join(dir, 'cache', 'd.tar');
  await makeRepo(src, { Packages: 'p' });
  const r = await pack(src, dest, '--check');
  expect(r.result).toMatchObject({ changed: false, packed: true, files: 1 });
  expect(await member(dest, 'apt-repository/Packages')).toBe('p');
}, 120_000);

it('fails with the path when the directory is missing, and writes nothing', async () => {
  const dest = path.join(dir, 'cache', 'missing.tar');
  const r = await pack(path.join(dir, 'no-such-repo'), dest);
  expect(r.code).toBe(2);
  expect(r.stdout).toContain(`pag_pack_dir: ${path.join(dir, 'no-such-repo')} is not a directory on the controller`);
  await expect(fs.stat(dest)).rejects.toThrow(/ENOENT/);
}, 120_000);

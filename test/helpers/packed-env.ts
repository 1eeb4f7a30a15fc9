/** Writes a tarball laid out as pixi-pack writes one (file names only matter to the code under test). */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create } from 'tar';

export async function writePackedEnv(file: string, packages: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pag-pack-'));
  try {
    const entries = ['pixi-pack.json', 'environment.yml', ...packages];
    for (const rel of entries) {
      await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await writeFile(path.join(dir, rel), rel.endsWith('.json') ? '{"version":"1","platform":"linux-64"}' : '');
    }
    await create({ file, cwd: dir }, entries);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return file;
}

/** A flow environment with the given Prefect (conda-forge naming). */
export const withPrefect = (version: string) => [`channel/noarch/prefect-${version}-pyhd8ed1ab_0.conda`, 'channel/linux-64/python-3.12.7-h0_cpython.conda'];

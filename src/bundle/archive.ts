/**
 * A byte-reproducible .tar.gz of a directory: entries sorted, every mtime SOURCE_DATE_EPOCH, owner 0/0 with no
 * user or group names, modes normalised to 0755/0644, and a gzip header with neither timestamp nor file name
 * (zlib writes MTIME 0 and no FNAME).
 */
import { chmod, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { create } from 'tar';
import { byCodeUnit } from '../util/compare.js';

/** 2024-01-01T00:00:00Z: the mtime of every entry when SOURCE_DATE_EPOCH is not set. */
export const DEFAULT_EPOCH = 1_704_067_200;

export function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const v = env.SOURCE_DATE_EPOCH;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : DEFAULT_EPOCH;
}

/** Directories 0755, executables 0755, other files 0644; returns every entry (directories too), sorted. */
export async function normaliseTree(dir: string): Promise<string[]> {
  const entries: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const e of (await readdir(path.join(dir, rel))).sort(byCodeUnit)) {
      const r = rel === '' ? e : `${rel}/${e}`;
      const st = await lstat(path.join(dir, r));
      if (st.isDirectory()) {
        await chmod(path.join(dir, r), 0o755);
        entries.push(`${r}/`);
        await walk(r);
      } else {
        await chmod(path.join(dir, r), st.mode & 0o111 ? 0o755 : 0o644);
        entries.push(r);
      }
    }
  }
  await walk('');
  return entries;
}

/** Packs PARENT/NAME into FILE as NAME/… (gzipped unless told otherwise); the same tree gives the same bytes. */
export async function writeReproducibleTarball(parent: string, name: string, file: string, epoch: number, o: { gzip?: boolean } = {}): Promise<void> {
  await chmod(path.join(parent, name), 0o755);
  const entries = [`${name}/`, ...(await normaliseTree(path.join(parent, name))).map((e) => `${name}/${e}`)];
  await create(
    {
      file,
      cwd: parent,
      ...(o.gzip !== false && { gzip: { level: 6 } }),
      portable: true,
      noDirRecurse: true,
      mtime: new Date(epoch * 1000),
    },
    entries,
  );
}

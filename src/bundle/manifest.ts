/**
 * The bundle's manifest: `SHA256SUMS` in `sha256sum` format (`<hex>  <path>`, paths relative to the bundle's
 * top directory, sorted), covering every file but itself, and the check of a directory or a tarball against it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser } from 'tar';
import { FileError } from '../errors.js';
import { byCodeUnit } from '../util/compare.js';
import { sha256File } from '../util/hash.js';

export const MANIFEST = 'SHA256SUMS';

/** Every regular file under DIR (relative, `/`-separated, sorted); symlinks are refused: a bundle carries none. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const e of (await readdir(path.join(dir, rel))).sort(byCodeUnit)) {
      const r = rel === '' ? e : `${rel}/${e}`;
      const st = await lstat(path.join(dir, r));
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) out.push(r);
      else throw new FileError(`${path.join(dir, r)} is not a regular file or directory; a bundle holds only those`);
    }
  }
  await walk('');
  return out.sort(byCodeUnit);
}

/** `sha256sum` lines for every file of DIR except the manifest itself. */
export async function computeManifest(dir: string, onFile?: (done: number, total: number) => void): Promise<Map<string, string>> {
  const files = (await listFiles(dir)).filter((f) => f !== MANIFEST);
  const sums = new Map<string, string>();
  let i = 0;
  for (const f of files) {
    sums.set(f, await sha256File(path.join(dir, f)));
    onFile?.(++i, files.length);
  }
  return sums;
}

export function formatManifest(sums: Map<string, string>): string {
  return [...sums.keys()].sort(byCodeUnit).map((f) => `${sums.get(f)}  ${f}\n`).join('');
}

export function parseManifest(text: string, where: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new FileError(`${where}:${i + 1}: not a sha256sum line`);
    sums.set(m[2] as string, m[1] as string);
  });
  return sums;
}

export interface VerifyResult {
  missing: string[];
  extra: string[];
  altered: string[];
  checked: number;
}

export function compareManifest(expected: Map<string, string>, actual: Map<string, string>): VerifyResult {
  const missing = [...expected.keys()].filter((f) => !actual.has(f)).sort(byCodeUnit);
  const extra = [...actual.keys()].filter((f) => !expected.has(f) && f !== MANIFEST).sort(byCodeUnit);
  const altered = [...expected.keys()].filter((f) => actual.has(f) && actual.get(f) !== expected.get(f)).sort(byCodeUnit);
  return { missing, extra, altered, checked: expected.size };
}

/** Checks an unpacked bundle directory against its SHA256SUMS. */
export async function verifyDir(dir: string): Promise<VerifyResult> {
  const text = await readFile(path.join(dir, MANIFEST), 'utf8').catch(() => {
    throw new FileError(`${path.join(dir, MANIFEST)} is missing: ${dir} is not a bundle (or not its top directory)`);
  });
  return compareManifest(parseManifest(text, path.join(dir, MANIFEST)), await computeManifest(dir));
}

/**
 * Reads a bundle tarball once: the hash of every file (paths without the top directory) and the contents of the
 * small files asked for in `keep`.
 */
export async function readTarball(file: string, keep: string[] = []): Promise<{ top: string; sums: Map<string, string>; kept: Map<string, Buffer> }> {
  const sums = new Map<string, string>();
  const kept = new Map<string, Buffer>();
  let top = '';
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry) => {
        const [first, ...rest] = entry.path.replace(/^\.\//, '').replace(/\/$/, '').split('/');
        if (!top && first) top = first;
        const rel = rest.join('/');
        if (entry.type !== 'File' || rel === '') {
          entry.resume();
          return;
        }
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => {
          hash.update(c);
          if (keep.includes(rel)) chunks.push(c);
        });
        entry.on('end', () => {
          sums.set(rel, hash.digest('hex'));
          if (keep.includes(rel)) kept.set(rel, Buffer.concat(chunks));
        });
      },
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    const input = createReadStream(file);
    input.on('error', (e) => reject(new FileError(`cannot read ${file}: ${e.message}`)));
    input.pipe(parser as unknown as NodeJS.WritableStream);
  }).catch((e: unknown) => {
    if (e instanceof FileError) throw e;
    throw new FileError(`${file} is not a readable bundle tarball: ${(e as Error).message}`);
  });
  return { top, sums, kept };
}

export async function verifyTarball(file: string): Promise<VerifyResult> {
  const { sums, kept } = await readTarball(file, [MANIFEST]);
  const manifest = kept.get(MANIFEST);
  if (!manifest) throw new FileError(`${file} holds no ${MANIFEST}: it is not a bundle`);
  return compareManifest(parseManifest(manifest.toString('utf8'), `${file}:${MANIFEST}`), sums);
}

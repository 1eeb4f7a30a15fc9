/** `bundle verify` and `bundle inspect` on a tarball or an unpacked bundle directory. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileError } from '../errors.js';
import { readTarball, verifyDir, verifyTarball, type VerifyResult } from './manifest.js';
import { readSbom, type SbomComponentView } from './sbom.js';

export const SBOM = 'sbom.cdx.json';

async function kind(target: string): Promise<'dir' | 'file'> {
  const st = await stat(target).catch(() => {
    throw new FileError(`${target} does not exist`);
  });
  return st.isDirectory() ? 'dir' : 'file';
}

export async function verifyBundle(target: string): Promise<VerifyResult> {
  return (await kind(target)) === 'dir' ? verifyDir(target) : verifyTarball(target);
}

export async function inspectBundle(target: string): Promise<{ bundle: string; version: string; components: SbomComponentView[] }> {
  let text: string;
  if ((await kind(target)) === 'dir') {
    text = await readFile(path.join(target, SBOM), 'utf8').catch(() => {
      throw new FileError(`${path.join(target, SBOM)} is missing: ${target} is not a bundle (or not its top directory)`);
    });
  } else {
    const sbom = (await readTarball(target, [SBOM])).kept.get(SBOM);
    if (!sbom) throw new FileError(`${target} holds no ${SBOM}: it is not a bundle`);
    text = sbom.toString('utf8');
  }
  try {
    return readSbom(JSON.parse(text));
  } catch (e) {
    throw new FileError(`${SBOM} of ${target} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The text view: one line per component, grouped by ecosystem, then the counts. */
export function formatInspect(view: { bundle: string; version: string; components: SbomComponentView[] }): string {
  const eco = (c: SbomComponentView) => (c.purl ? (/^pkg:([^/]+)/.exec(c.purl)?.[1] ?? 'other') : 'file');
  const lines = [`${view.bundle} (Prefect ${view.version}): ${view.components.length} components`];
  const groups = new Map<string, SbomComponentView[]>();
  for (const c of view.components) groups.set(eco(c), [...(groups.get(eco(c)) ?? []), c]);
  for (const [g, cs] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push('', `${g} (${cs.length})`);
    const w = Math.max(...cs.map((c) => c.name.length));
    const v = Math.max(...cs.map((c) => c.version.length));
    for (const c of cs) {
      lines.push(`  ${c.name.padEnd(w)}  ${c.version.padEnd(v)}  ${c.licenses.join(' ') || '-'}${c.usedBy ? `  [${c.usedBy}]` : ''}`.trimEnd());
    }
  }
  return `${lines.join('\n')}\n`;
}

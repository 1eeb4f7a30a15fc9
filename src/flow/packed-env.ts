/**
 * Reads which Prefect a pixi-pack tarball carries, from its file names alone (conda packages under
 * `channel/<subdir>/`, PyPI wheels under `pypi/`), so `deploy-flow` can refuse a flow whose client is newer
 * than the cluster's server before anything is shipped: new Prefect clients can fail against old servers.
 */
import { list } from 'tar';
import { CheckFailedError, FileError } from '../errors.js';

const CONDA_PREFECT = /^(?:\.\/)?channel\/[^/]+\/prefect-(\d[^-]*)-[^-/]+\.(?:conda|tar\.bz2)$/;
const WHEEL_PREFECT = /^(?:\.\/)?pypi\/prefect-(\d[^-]*)-[^/]*\.whl$/;

/** The versions of the `prefect` package inside a pixi-pack tarball ([] when it has none). */
export async function prefectVersionsInPackedEnv(tarball: string): Promise<string[]> {
  const versions = new Set<string>();
  try {
    await list({
      file: tarball,
      onReadEntry: (entry) => {
        const m = CONDA_PREFECT.exec(entry.path) ?? WHEEL_PREFECT.exec(entry.path);
        if (m) versions.add(m[1] as string);
      },
    });
  } catch (e) {
    throw new FileError(`cannot read the packed environment ${tarball}: ${(e as Error).message}`, 'Make it again with `pixi-pack`.');
  }
  return [...versions].sort(compareReleases);
}

/** Compares release numbers (3.4.10 > 3.4.9); pre-release and local suffixes are ignored. */
export function compareReleases(a: string, b: string): number {
  const nums = (v: string) => (/^\d+(?:\.\d+)*/.exec(v)?.[0] ?? '0').split('.').map(Number);
  const [x, y] = [nums(a), nums(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * Throws CheckFailedError when the packed environment has no Prefect (its runs could not start) or a newer
 * one than the cluster runs, unless `allowNewer` is set. Returns the version found.
 */
export async function checkPackedEnvPrefect(tarball: string, clusterVersion: string, allowNewer: boolean): Promise<string> {
  const versions = await prefectVersionsInPackedEnv(tarball);
  const pin = `pin "prefect==${clusterVersion}" in the flow's pixi.toml and pack it again`;
  if (versions.length === 0) {
    throw new CheckFailedError(
      `the packed environment ${tarball} has no prefect package: the workers run each flow with its environment's \`python -m prefect.engine\``,
      `Add prefect to the flow's environment (${pin}).`,
    );
  }
  const newest = versions[versions.length - 1] as string;
  if (compareReleases(newest, clusterVersion) > 0 && !allowNewer) {
    throw new CheckFailedError(
      `the packed environment has prefect ${newest}, newer than the cluster's ${clusterVersion}: newer Prefect clients can fail against an older server`,
      `${pin[0]?.toUpperCase()}${pin.slice(1)}, or pass --allow-newer-prefect if you have checked this pair.`,
    );
  }
  return newest;
}

/**
 * Checks a flow directory before anything runs: the entrypoint names a file inside the directory that defines a
 * top-level function decorated with Prefect's @flow, the packed environment exists, and the work pool is one the
 * inventory defines and a worker serves. Python is scanned, never executed.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ClusterConfig } from '../config/types.js';
import { CheckFailedError } from '../errors.js';
import { flowNameOf, isFlowDecorator, scanPython } from './python-scan.js';

export interface FlowCheckInput {
  /** As given on the command line; resolved against `cwd`. */
  flowDir: string;
  /** `path/inside/dir.py:function`. */
  entrypoint: string;
  /** `--packed-env`, as given; when absent `<flowDir>/packed-env.tar` is used if it exists. */
  packedEnv?: string;
  cwd: string;
}

export interface FlowCheckResult {
  /** Absolute flow directory. */
  flowDir: string;
  /** Normalised entrypoint (`dir/main.py:my_flow`), relative to flowDir with `/` separators. */
  entrypoint: string;
  entrypointFile: string;
  functionName: string;
  /** 1-based line of the flow's `def`. */
  line: number;
  /**
   * The flow's name on the server (`@flow(name=…)`, else the function's name with `-` for `_`), which with the
   * deployment's name finds the deployment; undefined when the decorator computes it.
   */
  flowName?: string;
  /** Absolute path of the pixi-pack tarball, or undefined to run in the workers' own Prefect environment. */
  packedEnv?: string;
  packedEnvSource: 'option' | 'default' | 'none';
}

export const DEFAULT_PACKED_ENV = 'packed-env.tar';

const ENTRYPOINT = /^(.+\.py):([A-Za-z_][A-Za-z0-9_]*)$/;

export async function checkFlow(input: FlowCheckInput): Promise<FlowCheckResult> {
  const flowDir = resolve(input.cwd, input.flowDir);
  if (!(await isDir(flowDir))) {
    throw new CheckFailedError(`flow directory ${flowDir} does not exist or is not a directory`);
  }

  const m = ENTRYPOINT.exec(input.entrypoint);
  if (!m) {
    throw new CheckFailedError(
      `entrypoint ${JSON.stringify(input.entrypoint)} is not of the form path/inside/flow-dir.py:function`,
      'For example --entrypoint main.py:my_workflow',
    );
  }
  const relPath = m[1] as string;
  const functionName = m[2] as string;
  if (isAbsolute(relPath) || relPath.includes('\\')) {
    throw new CheckFailedError(`entrypoint path ${relPath} must be relative to the flow directory, with / separators`);
  }
  const file = resolve(flowDir, relPath);
  if (!inside(flowDir, file)) {
    throw new CheckFailedError(`entrypoint path ${relPath} leaves the flow directory ${flowDir}`);
  }
  let source: string;
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    // A symlink pointing outside would deploy code that is not in the directory being shipped.
    if (!inside(await realpath(flowDir), await realpath(file))) {
      throw new CheckFailedError(`entrypoint ${relPath} is a symbolic link to a file outside the flow directory`);
    }
    source = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof CheckFailedError) throw e;
    throw new CheckFailedError(`entrypoint file ${file} does not exist or is not a regular file`);
  }

  const scan = scanPython(source);
  const candidates = scan.functions.filter((f) => f.name === functionName);
  const flows = scan.functions.filter((f) => f.topLevel && f.decorators.some((d) => isFlowDecorator(d, scan.flowNames)));
  const flowList = flows.length > 0 ? `flows defined there: ${flows.map((f) => `${f.name} (line ${f.line})`).join(', ')}` : undefined;
  const top = candidates.filter((f) => f.topLevel);
  // Python keeps the last definition of a name; so does Prefect's loader.
  const def = top[top.length - 1];
  if (def === undefined) {
    const nested = candidates[0];
    if (nested) {
      throw new CheckFailedError(
        `${file}:${nested.line}: ${functionName} is not defined at module level (it is indented), so Prefect cannot load it`,
        flowList,
      );
    }
    throw new CheckFailedError(`${file}: no function named ${functionName}`, flowList);
  }
  if (!def.decorators.some((d) => isFlowDecorator(d, scan.flowNames))) {
    throw new CheckFailedError(
      `${file}:${def.line}: ${functionName} is not decorated with @flow`,
      flowList ?? 'Decorate it with @flow (from prefect import flow) or @prefect.flow.',
    );
  }

  const flowDecorator = def.decorators.findIndex((d) => isFlowDecorator(d, scan.flowNames));
  const flowName = flowNameOf(def.decorators[flowDecorator] as string, def.decoratorStrings[flowDecorator] ?? [], functionName);
  const result: FlowCheckResult = {
    flowDir,
    entrypoint: `${relative(flowDir, file).split(sep).join('/')}:${functionName}`,
    entrypointFile: file,
    functionName,
    line: def.line,
    ...(flowName !== undefined && { flowName }),
    packedEnvSource: 'none',
  };
  if (input.packedEnv !== undefined) {
    const p = resolve(input.cwd, input.packedEnv);
    if (!(await isFile(p))) throw new CheckFailedError(`packed environment ${p} does not exist or is not a file`);
    result.packedEnv = p;
    result.packedEnvSource = 'option';
  } else {
    const p = join(flowDir, DEFAULT_PACKED_ENV);
    if (await isFile(p)) {
      result.packedEnv = p;
      result.packedEnvSource = 'default';
    }
  }
  return result;
}

/** One line telling the user which environment the flow will run in. */
export function describePackedEnv(r: FlowCheckResult): string {
  switch (r.packedEnvSource) {
    case 'option':
      return `the flow runs in its own environment unpacked from ${r.packedEnv} (--packed-env)`;
    case 'default':
      return `the flow runs in its own environment unpacked from ${r.packedEnv}`;
    case 'none':
      return `no ${DEFAULT_PACKED_ENV} in ${r.flowDir}: the flow runs in the workers' own Prefect environment (pass --packed-env to use a pixi-pack tarball)`;
  }
}

/**
 * Picks the work pool: the one asked for, which must be defined and served by a worker; else `cpu-pool` when
 * defined, else the first pool without GPUs.
 */
export function chooseWorkPool(config: ClusterConfig, requested?: string): string {
  const pools = config.prefect_work_pools;
  const names = pools.map((p) => p.name);
  let pool: string;
  if (requested !== undefined) {
    if (!names.includes(requested)) {
      throw new CheckFailedError(
        `work pool ${requested} is not defined in ${config.inventoryPath}`,
        names.length > 0 ? `Defined pools: ${names.join(', ')}` : 'Define it under all.vars.prefect_work_pools.',
      );
    }
    pool = requested;
  } else {
    const chosen = pools.find((p) => p.name === 'cpu-pool') ?? pools.find((p) => !p.gpu);
    if (chosen === undefined) {
      throw new CheckFailedError(
        `no CPU work pool in ${config.inventoryPath} to default to`,
        names.length > 0 ? `Pass --work-pool (one of ${names.join(', ')}).` : 'Define one under all.vars.prefect_work_pools.',
      );
    }
    pool = chosen.name;
  }
  if (!config.workers.some((w) => w.pools.includes(pool))) {
    throw new CheckFailedError(
      `no worker serves work pool ${pool}: a flow deployed there would never run`,
      `Add ${pool} to some host's prefect_worker_pools in ${config.inventoryPath}.`,
    );
  }
  return pool;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

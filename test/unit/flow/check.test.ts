import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckFailedError } from '../../../src/errors.js';
import { checkFlow, chooseWorkPool, describePackedEnv } from '../../../src/flow/check.js';
import type { ClusterConfig, WorkPool, WorkerHost } from '../../../src/config/types.js';

let root: string;
let flowDir: string;
const FLOW = `from prefect import flow\n\n\n@flow(log_prints=True)\ndef my_workflow(name: str = "world") -> str:\n    return name\n\n\ndef helper():\n    pass\n`;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pag-flow-'));
  flowDir = join(root, 'demo');
  await mkdir(join(flowDir, 'pkg'), { recursive: true });
  await writeFile(join(flowDir, 'main.py'), FLOW);
  await writeFile(join(flowDir, 'pkg', 'sub.py'), '@prefect.flow\nasync def sub():\n    pass\n');
  await writeFile(join(root, 'outside.py'), FLOW);
});

const check = (entrypoint: string, extra: { packedEnv?: string; flowDir?: string } = {}) =>
  checkFlow({ flowDir: extra.flowDir ?? 'demo', entrypoint, cwd: root, ...(extra.packedEnv !== undefined && { packedEnv: extra.packedEnv }) });

describe('checkFlow', () => {
  it('accepts a decorated module-level function; no packed env → workers environment', async () => {
    const r = await check('main.py:my_workflow');
    expect(r).toEqual({
      flowDir,
      entrypoint: 'main.py:my_workflow',
      entrypointFile: join(flowDir, 'main.py'),
      functionName: 'my_workflow',
      line: 5,
      flowName: 'my-workflow',
      packedEnvSource: 'none',
    });
    expect(describePackedEnv(r)).toMatch(/workers' own Prefect environment/);
  });

  it('accepts a nested path and normalises it', async () => {
    expect((await check('./pkg/../pkg/sub.py:sub')).entrypoint).toBe('pkg/sub.py:sub');
  });

  it('uses DIR/packed-env.tar when present, or the given file', async () => {
    await writeFile(join(flowDir, 'packed-env.tar'), 'x');
    const d = await check('main.py:my_workflow');
    expect(d).toMatchObject({ packedEnv: join(flowDir, 'packed-env.tar'), packedEnvSource: 'default' });
    await writeFile(join(root, 'env.tar'), 'x');
    const o = await check('main.py:my_workflow', { packedEnv: 'env.tar' });
    expect(o).toMatchObject({ packedEnv: join(root, 'env.tar'), packedEnvSource: 'option' });
    expect(describePackedEnv(o)).toMatch(/--packed-env/);
  });

  it.each([
    ['missing flow dir', 'main.py:my_workflow', { flowDir: 'nope' }, /flow directory .*nope does not exist/],
    ['no colon', 'main.py', {}, /not of the form path\/inside\/flow-dir.py:function/],
    ['not .py', 'main.txt:my_workflow', {}, /not of the form/],
    ['bad function name', 'main.py:my-workflow', {}, /not of the form/],
    ['absolute path', '/etc/main.py:f', {}, /must be relative/],
    ['.. escape', '../outside.py:my_workflow', {}, /leaves the flow directory/],
    ['missing file', 'other.py:my_workflow', {}, /other.py does not exist or is not a regular file/],
    ['directory', 'pkg.py:f', {}, /does not exist or is not a regular file/],
    ['undefined function', 'main.py:nope', {}, /main.py: no function named nope/],
    ['undecorated function', 'main.py:helper', {}, /main.py:9: helper is not decorated with @flow/],
    ['missing --packed-env', 'main.py:my_workflow', { packedEnv: 'missing.tar' }, /packed environment .*missing.tar does not exist/],
  ])('fails on %s', async (_what, entrypoint, extra, re) => {
    if (_what === 'directory') await mkdir(join(flowDir, 'pkg.py'));
    const p = check(entrypoint, extra);
    await expect(p).rejects.toThrow(CheckFailedError);
    await expect(p).rejects.toThrow(re);
  });

  it('lists the flows that are there when the name is wrong', async () => {
    await expect(check('main.py:nope')).rejects.toMatchObject({ hint: 'flows defined there: my_workflow (line 5)' });
  });

  it('refuses a nested function', async () => {
    await writeFile(join(flowDir, 'n.py'), 'class A:\n    @flow\n    def f(self): pass\n');
    await expect(check('n.py:f')).rejects.toThrow(/n.py:3: f is not defined at module level/);
  });

  it('refuses a symlink that points outside the flow dir', async () => {
    await symlink(join(root, 'outside.py'), join(flowDir, 'link.py'));
    await expect(check('link.py:my_workflow')).rejects.toThrow(/symbolic link to a file outside/);
  });
});

describe('chooseWorkPool', () => {
  const pool = (name: string, gpu = false): WorkPool => ({ name, type: 'process', concurrency_limit: null, worker_limit: null, gpu, drain_timeout: 600, env: {} });
  const worker = (pools: string[]): WorkerHost => ({ name: 'w', vars: {}, pools, gpu_ids: [], units: [] });
  const config = (pools: WorkPool[], workers: WorkerHost[]) =>
    ({ inventoryPath: '/inv.yml', prefect_work_pools: pools, workers }) as unknown as ClusterConfig;

  it('defaults to cpu-pool, else the first non-GPU pool', () => {
    expect(chooseWorkPool(config([pool('a-gpu', true), pool('cpu-pool'), pool('b')], [worker(['cpu-pool'])]))).toBe('cpu-pool');
    expect(chooseWorkPool(config([pool('a-gpu', true), pool('b')], [worker(['b'])]))).toBe('b');
  });
  it('takes a defined, served pool', () => {
    expect(chooseWorkPool(config([pool('gpu-pool', true)], [worker(['gpu-pool'])]), 'gpu-pool')).toBe('gpu-pool');
  });
  it('refuses an undefined pool, listing the defined ones', () => {
    expect(() => chooseWorkPool(config([pool('cpu-pool')], [worker(['cpu-pool'])]), 'gpu')).toThrow(
      expect.objectContaining({ message: 'work pool gpu is not defined in /inv.yml', hint: 'Defined pools: cpu-pool' }),
    );
  });
  it('refuses a pool no worker serves', () => {
    expect(() => chooseWorkPool(config([pool('cpu-pool')], [worker([])]))).toThrow(/no worker serves work pool cpu-pool/);
  });
  it('refuses to default to a GPU pool', () => {
    expect(() => chooseWorkPool(config([pool('g', true)], [worker(['g'])]))).toThrow(/no CPU work pool/);
  });
});

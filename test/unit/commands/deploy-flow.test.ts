import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandContext } from '../../../src/cli/context.js';
import { CheckFailedError, UsageError } from '../../../src/errors.js';
import { registerDeployFlow } from '../../../src/commands/deploy-flow.js';
import { setupFake, type FakeSetup } from '../../doubles/fake-ansible/fake.js';
import { withPrefect, writePackedEnv } from '../../helpers/packed-env.js';
import { AUTH_STRING, captureReporter, programWith, writeCluster, type CapturedReporter } from '../../doubles/fake-ansible/cluster-fixture.js';

let fake: FakeSetup;
let reporter: CapturedReporter;
let flowDir: string;

beforeEach(async () => {
  fake = await setupFake();
  reporter = captureReporter();
  await writeCluster(fake.dir);
  flowDir = join(fake.dir, 'flows', 'demo');
  await mkdir(flowDir, { recursive: true });
  await writeFile(
    join(flowDir, 'main.py'),
    'from prefect import flow\n\n@flow(\n    log_prints=True,\n)\ndef my_workflow(name="world"):\n    print(name)\n\n@flow\ndef _private():\n    pass\n',
  );
});

async function deploy(args: string[], env: Record<string, string> = {}): Promise<CommandContext> {
  const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env(env) };
  await programWith(registerDeployFlow, ctx).parseAsync(['node', 'pag-ansible', 'deploy-flow', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args]);
  return ctx;
}

const varsOf = async () => {
  const rec = await fake.record();
  return { rec, vars: JSON.parse(rec.extraVarFiles[0]!.content!) as Record<string, unknown> };
};
const u = (s: string) => ({ __ansible_unsafe: s });

describe('pag-ansible deploy-flow', () => {
  it('runs prefect-flow-deployment.yml with the defaults, all vars unsafe in the private file', async () => {
    const ctx = await deploy(['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow']);
    expect(ctx.exitCode).toBe(0);
    const { rec, vars } = await varsOf();
    const out = join(fake.dir, 'rendered');
    expect(rec.argv).toEqual(['-i', join(out, 'inventory.yml'), '-e', `@${rec.extraVarFiles[0]!.file}`, join(out, 'prefect-flow-deployment.yml')]);
    expect(rec.extraVarFiles[0]).toMatchObject({ mode: '600', dirMode: '700' });
    expect(vars).toEqual({
      flow_dir: u(flowDir),
      flow_entrypoint: u('main.py:my_workflow'),
      work_pool: u('cpu-pool'),
      deployment_name: u('my_workflow'),
      flow_parameters: {},
      flow_cron: u(''),
      flow_interval: 0,
      flow_packed_env: u(''),
      flow_use_packed_env: false,
      flow_options: {},
      flow_name: u('my-workflow'),
      prefect_api_auth_string: u(AUTH_STRING),
    });
    expect(reporter.errText()).toMatch(/on work pool cpu-pool \(default; --work-pool to choose\)/);
    expect(reporter.errText()).toMatch(/workers' own Prefect environment/);
  });

  it('deploys the example flow shipped in examples/flows/demo (the README\'s quick start)', async () => {
    const example = join(dirname(fileURLToPath(import.meta.url)), '../../../examples/flows/demo');
    await deploy(['--flow-dir', example, '--entrypoint', 'main.py:my_workflow']);
    const { vars } = await varsOf();
    expect(vars).toMatchObject({ flow_dir: u(example), flow_entrypoint: u('main.py:my_workflow'), deployment_name: u('my_workflow') });
  });

  it('refuses a --limit that matches no host before anything runs', async () => {
    const p = deploy(['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow', '--limit', 'pag-worker-3']);
    await expect(p).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--limit pag-worker-3 matches no host of inventory.yml; did you mean "pag-worker-[12]"\?$/) });
    await expect(fake.record()).rejects.toThrow();
  });

  it('passes every option through', async () => {
    await writePackedEnv(join(flowDir, 'packed-env.tar'), withPrefect('3.4.11'));
    await deploy([
      '--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow', '--work-pool', 'gpu-pool', '--name', 'nightly',
      '--param', 'name={{ lookup("env","HOME") }}', '--param', 'n=3', '--param', 'l=[1,"x"]', '--cron', '0 3 * * *',
      '--limit', 'pag-worker-2', '--check', '--diff', '--', '-vv',
    ]);
    const { rec, vars } = await varsOf();
    expect(rec.argv.slice(4)).toEqual(['--limit', 'pag-worker-2', '--check', '--diff', join(fake.dir, 'rendered', 'prefect-flow-deployment.yml'), '-vv']);
    expect(vars).toMatchObject({
      work_pool: u('gpu-pool'),
      deployment_name: u('nightly'),
      flow_parameters: { name: u('{{ lookup("env","HOME") }}'), n: 3, l: [1, u('x')] },
      flow_cron: u('0 3 * * *'),
      flow_interval: 0,
      flow_packed_env: u(join(flowDir, 'packed-env.tar')),
      flow_use_packed_env: true,
    });
    expect(JSON.stringify(rec.argv)).not.toMatch(/lookup|admin/);
    // --check is a dry run, and the success line says so (as `run --check` does).
    expect(reporter.errText()).toMatch(/pag-ansible: Ansible finished successfully \(exit 0\); a dry run \(--check\): nothing was changed/);
  });

  it('takes --interval and --packed-env', async () => {
    await writePackedEnv(join(fake.dir, 'env.tar'), withPrefect('3.4.11'));
    await deploy(['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow', '--interval', '600', '--packed-env', 'env.tar']);
    const { vars } = await varsOf();
    expect(vars).toMatchObject({ flow_cron: u(''), flow_interval: 600, flow_packed_env: u(join(fake.dir, 'env.tar')), flow_use_packed_env: true });
  });

  it.each([
    [['--entrypoint', 'main.py:nope'], CheckFailedError, /no function named nope/],
    [['--entrypoint', 'main.py'], CheckFailedError, /not of the form/],
    [['--entrypoint', '../../inventory.py:f'], CheckFailedError, /leaves the flow directory/],
    [['--entrypoint', 'main.py:my_workflow', '--packed-env', 'none.tar'], CheckFailedError, /none.tar does not exist/],
    [['--entrypoint', 'main.py:my_workflow', '--work-pool', 'tpu-pool'], CheckFailedError, /work pool tpu-pool is not defined/],
    [['--entrypoint', 'main.py:my_workflow', '--cron', '* *'], UsageError, /5 fields/],
    [['--entrypoint', 'main.py:my_workflow', '--cron', '* * * * *', '--interval', '5'], UsageError, /cannot be used together/],
    [['--entrypoint', 'main.py:my_workflow', '--param', 'x'], UsageError, /expected name=value/],
    [['--entrypoint', 'main.py:my_workflow', '--name', 'a/b'], UsageError, /deployment name/],
    [['--entrypoint', 'main.py:_private'], CheckFailedError, /_private cannot be a deployment name/],
  ])('checks before running: %j', async (args, cls, re) => {
    const p = deploy(['--flow-dir', 'flows/demo', ...(args as string[])]);
    await expect(p).rejects.toThrow(cls as new (...a: never[]) => Error);
    await expect(p).rejects.toThrow(re as RegExp);
    await expect(readFile(fake.recordFile)).rejects.toThrow();
  });

  it('passes a failure through with its explanation', async () => {
    await expect(deploy(['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow'], { FAKE_ANSIBLE_EXIT: '99' })).rejects.toMatchObject({
      exitCode: 99,
      message: expect.stringMatching(/interrupted by the user/),
    });
  });
});

describe('deployment options', () => {
  it('passes tags, description, version, concurrency limit and env as flow_options (unsafe strings)', async () => {
    await deploy([
      '--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow',
      '--tag', 'holo', '--tag', 'askap', '--tag', 'holo', '--description', 'Holography {{ x }}', '--version', '1.2',
      '--concurrency-limit', '2', '--env', 'OMP_NUM_THREADS=4', '--env', 'A=b=c',
    ]);
    const { vars } = await varsOf();
    expect(vars.flow_options).toEqual({
      tags: [u('askap'), u('holo')],
      description: u('Holography {{ x }}'),
      version: u('1.2'),
      concurrency_limit: 2,
      env: { OMP_NUM_THREADS: u('4'), A: u('b=c') },
    });
  });

  it('rejects bad values with exit 2 before anything runs', async () => {
    const base = ['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow'];
    await expect(deploy([...base, '--concurrency-limit', '0'])).rejects.toThrow(/--concurrency-limit "0"/);
    await expect(deploy([...base, '--env', '1X=2'])).rejects.toThrow(/--env "1X=2"/);
    await expect(deploy([...base, '--tag', ' '])).rejects.toThrow(UsageError);
    await expect(deploy(['--flow-dir', 'flows/demo'])).rejects.toThrow(/--entrypoint .* or --prefect-yaml/);
    await expect(fake.record()).rejects.toThrow(/ENOENT/);
  });
});

describe('--prefect-yaml', () => {
  const project = (pull: string, extra = '') => `name: demo
prefect-version: 3.4.11
build: null
push: null
pull:
${pull}
deployments:
  - name: hello
    entrypoint: main.py:my_workflow
    parameters: {name: alma}
    tags: [alma]
    work_pool: {name: cpu-pool, job_variables: {env: {MODE: fast}}}
    schedules:
      - cron: "0 3 * * *"
  - name: hello-gpu
    entrypoint: main.py:my_workflow
    description: on the GPUs
    work_pool: {name: gpu-pool}
${extra}`;

  it('deploys every deployment of the file, in order, with its settings', async () => {
    await writeFile(join(flowDir, 'prefect.yaml'), project('  - prefect.deployments.steps.set_working_directory:\n      directory: /home/alma/project'));
    const calls: Record<string, unknown>[] = [];
    const { deployFlowAction } = await import('../../../src/commands/deploy-flow.js');
    const { clusterDeps } = await import('../../../src/commands/cluster-input.js');
    const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env() };
    await deployFlowAction({ inventory: 'inventory.yml', secrets: 'secrets.yml', prefectYaml: 'flows/demo/prefect.yaml' }, [], ctx, {
      ...clusterDeps,
      runPlaybook: async (spec) => {
        calls.push(spec.extraVars as Record<string, unknown>);
        return { exitCode: 0, argv: [] };
      },
    });
    expect(calls.map((c) => [c.deployment_name, c.work_pool, c.flow_dir])).toEqual([
      ['hello', 'cpu-pool', flowDir],
      ['hello-gpu', 'gpu-pool', flowDir],
    ]);
    expect(calls[0]).toMatchObject({ flow_parameters: { name: 'alma' }, flow_cron: '0 3 * * *', flow_options: { tags: ['alma'], env: { MODE: 'fast' } } });
    expect(calls[1]).toMatchObject({ flow_cron: '', flow_options: { description: 'on the GPUs' } });
  });

  it('refuses git clone and pip install pull steps, naming the line and the reason', async () => {
    await writeFile(join(flowDir, 'prefect.yaml'), project('  - prefect.deployments.steps.git_clone:\n      repository: https://example.invalid/x.git'));
    await expect(deploy(['--prefect-yaml', 'flows/demo/prefect.yaml'])).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/^flows\/demo\/prefect\.yaml:6:5: refusing the pull step prefect\.deployments\.steps\.git_clone: it clones a repository over the network/),
    });
    await writeFile(join(flowDir, 'prefect.yaml'), project('  - prefect.deployments.steps.run_shell_script:\n      script: pip install -r requirements.txt'));
    await expect(deploy(['--prefect-yaml', 'flows/demo/prefect.yaml'])).rejects.toThrow(/its script fetches code or packages from the network/);
    await writeFile(join(flowDir, 'prefect.yaml'), project('  - prefect.deployments.steps.pip_install_requirements:\n      requirements_file: r.txt'));
    await expect(deploy(['--prefect-yaml', 'flows/demo/prefect.yaml'])).rejects.toThrow(/installs packages from a package index/);
    await expect(fake.record()).rejects.toThrow(/ENOENT/);
  });

  it('refuses flags the file already sets', async () => {
    await writeFile(join(flowDir, 'prefect.yaml'), project('  []'));
    await expect(deploy(['--prefect-yaml', 'flows/demo/prefect.yaml', '--tag', 'x', '--entrypoint', 'main.py:my_workflow'])).rejects.toThrow(
      '--prefect-yaml takes every deployment setting from the file: leave out --entrypoint, --tag',
    );
  });
});

describe('the Prefect inside the packed environment', () => {
  const run = () => deploy(['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow']);

  it('is reported and may be older than the cluster', async () => {
    await writePackedEnv(join(flowDir, 'packed-env.tar'), withPrefect('3.4.9'));
    await run();
    expect(reporter.errText()).toContain('its prefect is 3.4.9; the cluster runs 3.4.11');
    expect((await fake.record()).argv.at(-1)).toMatch(/prefect-flow-deployment\.yml$/);
  });

  it('may not be newer than the cluster, before anything runs (3.4.12 > 3.4.11, 3.10 > 3.4)', async () => {
    for (const newer of ['3.4.12', '3.10.0']) {
      await writePackedEnv(join(flowDir, 'packed-env.tar'), withPrefect(newer));
      await expect(run()).rejects.toThrow(new RegExp(`prefect ${newer.replace(/\./g, '\\.')}, newer than the cluster's 3\\.4\\.11`));
    }
    await expect(fake.record()).rejects.toThrow(); // Ansible never ran
  });

  it('may be newer with --allow-newer-prefect', async () => {
    await writePackedEnv(join(flowDir, 'packed-env.tar'), withPrefect('3.4.12'));
    await deploy(['--flow-dir', 'flows/demo', '--entrypoint', 'main.py:my_workflow', '--allow-newer-prefect']);
    expect((await fake.record()).argv.at(-1)).toMatch(/prefect-flow-deployment\.yml$/);
  });

  it('must exist: a packed environment without prefect cannot run a flow', async () => {
    await writePackedEnv(join(flowDir, 'packed-env.tar'), ['channel/linux-64/python-3.12.7-h0_cpython.conda']);
    await expect(run()).rejects.toThrow(CheckFailedError);
    await expect(run()).rejects.toThrow(/has no prefect package/);
  });

  it('is found among PyPI wheels too, and a damaged tarball is a clear error', async () => {
    await writePackedEnv(join(flowDir, 'packed-env.tar'), ['pypi/prefect-3.4.11-py3-none-any.whl']);
    await run();
    expect(reporter.errText()).toContain('its prefect is 3.4.11');
    await writeFile(join(flowDir, 'packed-env.tar'), 'not a tarball at all');
    await expect(run()).rejects.toThrow(/cannot read the packed environment|has no prefect package/);
  });
});

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandContext } from '../../../src/cli/context.js';
import { MissingToolError } from '../../../src/errors.js';
import { registerPing } from '../../../src/commands/ping.js';
import { setupFake, type FakeSetup } from '../../doubles/fake-ansible/fake.js';
import { captureReporter, programWith, writeCluster, type CapturedReporter } from '../../doubles/fake-ansible/cluster-fixture.js';

let fake: FakeSetup;
let reporter: CapturedReporter;

beforeEach(async () => {
  fake = await setupFake();
  reporter = captureReporter();
  await writeCluster(fake.dir);
});

async function ping(args: string[], env: Record<string, string> = {}): Promise<CommandContext> {
  const ctx: CommandContext = { reporter, exitCode: 0, cwd: fake.dir, env: fake.env(env) };
  await programWith(registerPing, ctx).parseAsync(['node', 'pag-ansible', 'ping', ...args]);
  return ctx;
}

const z = { ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 };

describe('pag-ansible ping', () => {
  it('refuses a --limit that matches nothing (exit 2), naming the nearest group', async () => {
    await expect(ping(['-i', 'inventory.yml', '--limit', 'prefect_worker'])).rejects.toMatchObject({
      exitCode: 2,
      message: '--limit prefect_worker matches no host of inventory.yml; did you mean "prefect_workers"?',
    });
    await expect(fake.record()).rejects.toThrow();
  });

  it('renders without secrets and runs ansible all -m ansible.builtin.ping with the recap callback loaded', async () => {
    const ctx = await ping(['-i', 'inventory.yml', '-o', 'out', '--limit', 'prefect_workers', '--', '-u', 'admin']);
    expect(ctx.exitCode).toBe(0);
    const rec = await fake.record();
    const out = join(fake.dir, 'out');
    expect(rec.program).toBe('ansible');
    expect(rec.argv).toEqual(['-i', join(out, 'inventory.yml'), 'all', '-m', 'ansible.builtin.ping', '--limit', 'prefect_workers', '--one-line', '-u', 'admin']);
    expect(rec.extraVarFiles).toEqual([]);
    expect(rec.env).toMatchObject({
      ANSIBLE_CONFIG: join(out, 'ansible.cfg'),
      ANSIBLE_LOAD_CALLBACK_PLUGINS: '1',
      ANSIBLE_CALLBACKS_ENABLED: 'pag_recap',
      ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
    });
  });

  it('names the unreachable hosts and exits 4', async () => {
    const recap = { hosts: { 'pag-server': { ...z, ok: 1 }, 'pag-worker-1': { ...z, unreachable: 1 }, 'pag-worker-2': { ...z, unreachable: 1 } } };
    const p = ping(['-i', 'inventory.yml'], { FAKE_ANSIBLE_EXIT: '4', FAKE_ANSIBLE_RECAP: JSON.stringify(recap) });
    await expect(p).rejects.toMatchObject({
      exitCode: 4,
      message: expect.stringMatching(/^could not reach 2 hosts \(pag-worker-1, pag-worker-2\): .* \(exit 4\)$/),
      hint: undefined,
    });
    expect(reporter.errText()).toMatch(/pag-worker-2\s+0\s+0\s+0\s+1/);
  });

  it('exits 3 when ansible is missing', async () => {
    await mkdir(join(fake.dir, 'empty'));
    await expect(ping(['-i', 'inventory.yml'], { PATH: join(fake.dir, 'empty') })).rejects.toThrow(MissingToolError);
  });
});

/**
 * The generated variables satisfy the roles' argument_specs, as real Ansible checks them: main.yml run with
 * `--tags always` executes only the pre-flight checks and each role's argument validation (tagged always), on the
 * controller (connection local), for the example inventory and each seed site in examples/. A key added to the
 * generated variables but not to a role's argument_specs fails here rather than on the first host.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadClusterOrThrow } from '../../../src/config/index.js';
import { renderTree } from '../../../src/render/index.js';
import { repoRoot } from '../config/helpers.js';

const run = promisify(execFile);

const SECRETS = [
  '---',
  'prefect_api_auth_string: "admin:not-a-real-password"',
  'prefect_database_password: "not-a-real-password"',
  'prefect_redis_password: "not-a-real-password"',
  '',
].join('\n');

const inventories = ['inventory.example.yml', 'examples/flint.yml', 'examples/holography.yml', 'examples/alma.yml'];

it.each(inventories)('the variables generated from %s pass every role argument validation', async (inventory) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-argspecs-'));
  try {
    const inventoryPath = path.join(dir, 'inventory.yml');
    await fs.copyFile(path.join(repoRoot, inventory), inventoryPath);
    const { config } = await loadClusterOrThrow({ inventoryPath, cwd: dir });
    const out = path.join(dir, 'rendered');
    await renderTree(config, out);
    await fs.writeFile(path.join(dir, 'secrets.yml'), SECRETS, { mode: 0o600 });
    const result = await run(
      'ansible-playbook',
      ['main.yml', '--tags', 'always', '--connection', 'local', '-e', 'ansible_become=false', '-e', `@${path.join(dir, 'secrets.yml')}`],
      {
        cwd: out,
        env: { ...process.env, ANSIBLE_CONFIG: path.join(out, 'ansible.cfg'), ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3', ANSIBLE_NOCOLOR: '1' },
      },
    ).catch((e: { stdout?: string; message: string }) => {
      throw new Error(`argument validation failed for ${inventory}:\n${e.stdout ?? e.message}`);
    });
    // Each play validated its role on its hosts: one line per role, and no failure in the recap.
    expect(result.stdout).toMatch(/Validating arguments against arg spec 'main' - Run the Prefect server/);
    expect(result.stdout).toMatch(/Validating arguments against arg spec 'main' - Run one Prefect process worker/);
    expect(result.stdout).not.toMatch(/failed=[1-9]/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 120_000);

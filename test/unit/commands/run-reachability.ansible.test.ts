/**
 * `run`'s reachability round with real `ansible` against loopback ports where nothing listens (connection
 * refused, no traffic leaves the machine). ansible-playbook is the fake of test/doubles: the round must decide
 * whether it runs at all, and with which --limit.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.js';
import { FAKE_ANSIBLE_DIR } from '../../doubles/fake-ansible/fake.js';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-reach-'));
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin);
  await fs.writeFile(path.join(bin, 'ansible'), '#!/bin/sh\nexec /usr/bin/ansible "$@"\n', { mode: 0o755 });
  await fs.writeFile(path.join(bin, 'ansible-playbook'), `#!/bin/sh\nexec "${FAKE_ANSIBLE_DIR}/ansible-playbook" "$@"\n`, { mode: 0o755 });
  await fs.writeFile(path.join(dir, 'secrets.yml'), 'prefect_api_auth_string: "admin:pw"\n');
  env = {
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: process.env.HOME,
    FAKE_ANSIBLE_NODE: process.execPath,
    FAKE_ANSIBLE_RECORD: path.join(dir, 'record.json'),
  };
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function inventory(server: string): Promise<void> {
  const [w1, w2] = [await closedPort(), await closedPort()];
  await fs.writeFile(
    path.join(dir, 'inventory.yml'),
    `all:
  vars:
    prefect_version: "3.4.11"
    prefect_environment: {source: prefix, prefix: /opt/prefect-prefix}
    prefect_api: {url: "http://127.0.0.1:4200/api"}
    prefect_work_pools: {cpu-pool: {concurrency_limit: 2}}
  children:
    prefect_server:
      hosts:
        pag-server: ${server}
    prefect_workers:
      vars:
        prefect_worker_pools: [cpu-pool]
      hosts:
        pag-worker-1: {ansible_host: 127.0.0.1, ansible_port: ${w1}}
        pag-worker-2: {ansible_host: 127.0.0.1, ansible_port: ${w2}}
`,
  );
}

async function pagRun(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const reporter = { out: () => {}, err: (t: string) => void (stderr += `${t}\n`) };
  const saved = process.env;
  process.env = env; // main() reads process.env
  try {
    const code = await main(['node', 'pag-ansible', 'run', '-i', 'inventory.yml', '-s', 'secrets.yml', ...args], reporter, dir);
    return { code, stderr };
  } finally {
    process.env = saved;
  }
}

it('names every host that refuses the connection and runs no play', async () => {
  await inventory(`{ansible_host: 127.0.0.1, ansible_port: ${await closedPort()}}`);
  const { code, stderr } = await pagRun([]);
  expect(code).toBe(4);
  for (const host of ['pag-server', 'pag-worker-1', 'pag-worker-2']) {
    expect(stderr).toMatch(new RegExp(`^  ${host}: unreachable: .*Connection refused`, 'm'));
  }
  expect(stderr).toContain('pag-ansible: 3 of 3 targeted hosts cannot be used; nothing was changed');
  await expect(fs.readFile(path.join(dir, 'record.json'))).rejects.toThrow(); // ansible-playbook never started
}, 90_000);

it('with --skip-unreachable runs the plays on the host that answered', async () => {
  await inventory('{ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}');
  const { code, stderr } = await pagRun(['--skip-unreachable']);
  expect(stderr).toMatch(/^  pag-worker-1: unreachable: .*Connection refused/m);
  expect(stderr).toMatch(/^  pag-worker-2: unreachable: .*Connection refused/m);
  expect(code).toBe(0);
  const rec = JSON.parse(await fs.readFile(path.join(dir, 'record.json'), 'utf8')) as { program: string; argv: string[] };
  expect(rec.program).toBe('ansible-playbook');
  expect(rec.argv[rec.argv.indexOf('--limit') + 1]).toBe('pag-server');
}, 90_000);

it('names a host whose Python does not start, and one without the interpreter it is given, and runs no play', async () => {
  // Reached (a local connection), but the interpreter the inventory names is not there: modules could not run.
  await inventory(`{ansible_connection: local, ansible_python_interpreter: ${path.join(dir, 'no-such-python3')}}`);
  const { code, stderr } = await pagRun([]);
  expect(code).toBe(4);
  expect(stderr).toMatch(new RegExp(`^  pag-server: cannot run Ansible modules: exit 127: .*no-such-python3.*not found`, 'm'));
  expect(stderr).toMatch(/^  pag-worker-1: unreachable: .*Connection refused/m);
  await expect(fs.readFile(path.join(dir, 'record.json'))).rejects.toThrow(); // ansible-playbook never started
}, 90_000);

it('starts the Python that Ansible would discover when the inventory sets none', async () => {
  // A local connection whose PATH has a python3 that fails: the round runs it (and says so) rather than assuming.
  const bin = path.join(dir, 'bin');
  await fs.writeFile(path.join(bin, 'python3'), '#!/bin/sh\necho "python3 is broken here" >&2\nexit 3\n', { mode: 0o755 });
  await inventory('{ansible_connection: local}');
  const { code, stderr } = await pagRun([]);
  expect(code).toBe(4);
  expect(stderr).toMatch(/^  pag-server: cannot run Ansible modules: exit 3: python3 is broken here$/m);
}, 90_000);

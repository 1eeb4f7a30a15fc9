/**
 * The seed's air-gapped story end to end, on booted Debian 13 hosts that reach no package source:
 *   1. `bundle build` here (connected) from the real Prefect wheelhouse, local PostgreSQL, one flow;
 *   2. the tarball is copied to a controller host (pag-ctl) that reaches only the cluster's other hosts;
 *   3. install.sh there installs Ansible from the bundle and puts pag-ansible (with its own Node) on PATH;
 *   4. from pag-ctl, with what the bundle installed: validate, run (server with PostgreSQL from the bundle's
 *      packages, then the worker), deploy-flow; the flow runs to Completed on real Prefect.
 * The hosts have no route beyond their subnet, so any download attempt would fail the run.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { harnessAvailable, startCluster, type Cluster } from './harness/cluster.js';
import { AUTH, CLI, DB_PASSWORD, api, changedTasks, parseRecap, realPrefectBase, realPrefectDebianPackages, realPrefectWheelhouse, waitFor, writeFlow } from './support.js';

jest.setTimeout(60 * 60_000);
const CTL = 'pag-ctl';
const SERVER = 'pag-server';
const WORKER = 'pag-worker-1';
const ok = harnessAvailable();
const maybe = ok.ok ? test : test.skip;

let cluster: Cluster;
let work: string;
let bundleDir: string;
let baseUrl: string;

/** A shell command on the controller host, in the unpacked bundle. */
async function onCtl(command: string, timeoutMs = 1_800_000) {
  return cluster.exec(CTL, ['sh', '-c', `cd ${bundleDir} && ${command}`], { timeoutMs });
}

beforeAll(async () => {
  if (!ok.ok) return;
  work = await mkdtemp(path.join(os.tmpdir(), 'pag-bundle-e2e-'));
  // The real-Prefect Debian 13 base (it already has the wheelhouse's python3-* packages and acl, which the bundle
  // carries too); PostgreSQL, Ansible and pag-ansible come from the bundle only.
  cluster = await startCluster({ name: 'pagbndl', hosts: [CTL, SERVER, WORKER], base: realPrefectBase() });
  baseUrl = `http://${cluster.host(SERVER).ip}:4200/api`;
}, 1_800_000);
afterAll(async () => {
  await cluster?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

maybe('bundle build on the connected machine', async () => {
  const hostVars = (name: string) =>
    `{ ansible_host: ${cluster.host(name).ip}, ansible_user: root, ansible_python_interpreter: /usr/bin/python3, ansible_ssh_private_key_file: /root/.ssh/id_ed25519, ansible_ssh_common_args: "-o UserKnownHostsFile=/root/.ssh/known_hosts -o StrictHostKeyChecking=yes" }`;
  await writeFile(
    path.join(work, 'inventory.yml'),
    `all:
  vars:
    prefect_version: "3.4.25"
    prefect_environment:
      source: wheelhouse
      wheelhouse_dir: ${realPrefectWheelhouse()}
      system_site_packages: true
      system_packages: ${JSON.stringify(['python3-venv', ...realPrefectDebianPackages()])}
    prefect_api:
      url: ${baseUrl}
    prefect_database:
      type: postgresql
      mode: local
    prefect_work_pools:
      cpu-pool: { concurrency_limit: 4 }
  children:
    prefect_server:
      hosts:
        ${SERVER}: ${hostVars(SERVER)}
    prefect_workers:
      hosts:
        ${WORKER}: ${hostVars(WORKER).slice(0, -2)}, prefect_worker_pools: [cpu-pool] }
`,
  );
  await writeFlow(path.join(work, 'hello'), { func: 'hello', marker: 'from-the-bundle' });
  const r = spawnSync(process.execPath, [CLI, 'bundle', 'build', '-i', 'inventory.yml', '--target', 'debian-13', '--flow', 'hello', '-o', 'bundle.tar.gz'], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  process.stdout.write(r.stdout);
  expect(r.stderr).not.toMatch(/pag-ansible: /);
  expect(r.status).toBe(0);
});

maybe('copy to the offline controller, install.sh installs Ansible and pag-ansible; a second run changes nothing', async () => {
  const root = cluster.rootOf(CTL);
  await copyFile(path.join(work, 'bundle.tar.gz'), path.join(root, 'root', 'bundle.tar.gz'));
  // The controller's SSH identity for the cluster (the harness's throwaway key) and the hosts' keys.
  await mkdir(path.join(root, 'root', '.ssh'), { recursive: true });
  await copyFile(cluster.sshKey, path.join(root, 'root', '.ssh', 'id_ed25519'));
  await chmod(path.join(root, 'root', '.ssh', 'id_ed25519'), 0o600);
  await copyFile(cluster.knownHosts, path.join(root, 'root', '.ssh', 'known_hosts'));
  expect((await cluster.exec(CTL, ['sh', '-c', 'command -v ansible-playbook node pag-ansible'])).stdout).toBe('');
  await cluster.execOk(CTL, ['tar', 'xzf', '/root/bundle.tar.gz', '-C', '/root']);
  bundleDir = '/root/pag-bundle-prefect-3.4.25-debian-13-x64';
  const first = await onCtl('./install.sh');
  expect(first.stderr).not.toMatch(/install\.sh: /);
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/installed ansible-core/);
  const second = await onCtl('./install.sh');
  expect(second.code).toBe(0);
  expect(second.stdout).toMatch(/already installed/);
  expect(second.stdout).toMatch(/already points at this bundle/);
  expect((await cluster.execOk(CTL, ['pag-ansible', 'bundle', 'verify', bundleDir])).stdout).toMatch(/all \d+ files match SHA256SUMS/);
});

maybe('validate, run the server (PostgreSQL from the bundle) and the worker, from the controller', async () => {
  await writeFile(path.join(cluster.rootOf(CTL), bundleDir.slice(1), 'secrets.yml'), `prefect_api_auth_string: !unsafe ${JSON.stringify(AUTH)}\nprefect_database_password: !unsafe ${JSON.stringify(DB_PASSWORD)}\n`, { mode: 0o600 });
  const v = await onCtl('pag-ansible validate -i inventory.yml -s secrets.yml');
  expect(v.stderr).toMatch(/inventory\.yml: OK/);
  expect(v.code).toBe(0);
  // An operator's first step on a new site: a dry run. It gets through every host and changes nothing there.
  const dry = await onCtl('pag-ansible run -i inventory.yml -s secrets.yml --check --diff');
  if (dry.code !== 0) process.stdout.write(`${dry.stdout}\n${dry.stderr}`);
  expect(dry.code).toBe(0);
  const dryRecap = parseRecap(dry.stderr);
  expect(Object.keys(dryRecap)).toEqual(expect.arrayContaining([SERVER, WORKER]));
  for (const [h, r] of Object.entries(dryRecap)) expect(`${h}: failed ${r.failed}, unreachable ${r.unreachable}`).toBe(`${h}: failed 0, unreachable 0`);
  // It reports what the run would do there, then says why it stops where the rest needs what it would install.
  for (const h of [SERVER, WORKER]) expect(dryRecap[h]?.changed).toBeGreaterThan(0);
  // Once for each host of each play it ends (Ansible names a meta task per host): the environment play's two, the
  // server play's and the worker play's.
  expect(dry.stdout.match(/End the dry run here on a host Prefect was never deployed on/g)).toHaveLength(4);
  expect(dry.stderr).toMatch(/a dry run \(--check\): nothing was changed/);
  expect(dry.stderr).not.toMatch(/\[WARNING\]/);
  for (const h of [SERVER, WORKER]) {
    expect(`${h}: ${(await cluster.exec(h, ['sh', '-c', 'ls -d /opt/prefect /etc/prefect /etc/apt/sources.list.d/pag-ansible.sources 2>&1; true'])).stdout.trim()}`).toBe(
      `${h}: ls: cannot access '/opt/prefect': No such file or directory\nls: cannot access '/etc/prefect': No such file or directory\nls: cannot access '/etc/apt/sources.list.d/pag-ansible.sources': No such file or directory`,
    );
  }
  for (const h of [SERVER, WORKER]) expect(`${h}: ${(await cluster.exec(h, ['getent', 'passwd', 'prefect'])).code}`).toBe(`${h}: 2`);
  expect((await cluster.exec(SERVER, ['dpkg-query', '-W', '-f=${Status}', 'postgresql-17'])).stdout).not.toBe('install ok installed');
  const server = await onCtl('pag-ansible run -i inventory.yml -s secrets.yml --tags prefect-server');
  if (server.code !== 0) process.stdout.write(`${server.stdout}\n${server.stderr}`);
  expect(server.code).toBe(0);
  expect((await cluster.exec(SERVER, ['dpkg-query', '-W', '-f=${Status}', 'postgresql-17'])).stdout).toBe('install ok installed');
  const ready = await api(baseUrl, 'GET', '/ready', undefined, null);
  expect(ready.status).toBe(200);
  const worker = await onCtl('pag-ansible run -i inventory.yml -s secrets.yml --tags prefect-worker');
  if (worker.code !== 0) process.stdout.write(`${worker.stdout}\n${worker.stderr}`);
  expect(worker.code).toBe(0);
  await waitFor('the worker to be ONLINE', async () => {
    const r = await api<{ status: string }[]>(baseUrl, 'POST', '/work_pools/cpu-pool/workers/filter', {});
    return r.body.some?.((w) => w.status === 'ONLINE');
  }, 240_000, 2_000);
  // The repository archive is copied and unpacked once: a second run changes nothing.
  const again = await onCtl('pag-ansible run -i inventory.yml -s secrets.yml');
  expect(again.code).toBe(0);
  expect(changedTasks(again.stdout)).toEqual([]);
  const recap = parseRecap(again.stderr);
  expect(Object.keys(recap)).toEqual(expect.arrayContaining([SERVER, WORKER]));
  expect(Object.entries(recap).filter(([, h]) => h.changed !== 0)).toEqual([]);
});

maybe('deploy-flow from the bundle; the flow runs to Completed on real Prefect', async () => {
  const d = await onCtl('pag-ansible deploy-flow -i inventory.yml -s secrets.yml --flow-dir flows/hello --entrypoint main.py:hello --work-pool cpu-pool');
  if (d.code !== 0) process.stdout.write(`${d.stdout}\n${d.stderr}`);
  expect(d.code).toBe(0);
  const dep = await api<{ id: string }>(baseUrl, 'GET', '/deployments/name/hello/hello');
  expect(dep.status).toBe(200);
  const created = await api<{ id: string }>(baseUrl, 'POST', `/deployments/${dep.body.id}/create_flow_run`, {});
  expect(created.status).toBe(201);
  await waitFor('the flow run to complete', async () => {
    const fr = await api<{ state_type: string }>(baseUrl, 'GET', `/flow_runs/${created.body.id}`);
    if (['FAILED', 'CRASHED', 'CANCELLED'].includes(fr.body.state_type)) throw new Error(`flow run ended ${fr.body.state_type}`);
    return fr.body.state_type === 'COMPLETED';
  }, 300_000, 2_000);
  const out = await cluster.exec(WORKER, ['cat', '/opt/prefect/flows/hello/code/flow-output.json']);
  expect(JSON.parse(out.stdout)).toMatchObject({ marker: 'from-the-bundle' });
});

maybe('no host has a route beyond the cluster, and none has an apt source but the bundle\'s', async () => {
  for (const h of [CTL, SERVER, WORKER]) {
    expect((await cluster.execOk(h, ['ip', 'route', 'show', 'default'])).stdout.trim()).toBe('');
  }
  for (const h of [SERVER, WORKER]) {
    const sources = await cluster.execOk(h, ['sh', '-c', 'cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -E "^(deb|URIs)"']);
    expect(sources.stdout.trim()).toBe('URIs: file:/opt/prefect/apt-repository');
  }
});
